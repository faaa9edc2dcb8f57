package fgs

import (
	"maps"
	"slices"
	"time"
)

// Function is one version of a function, "latest" for now: its
// configuration, its code package's metadata and the fields the platform
// derives. The JSON names are the FunctionGraph wire names, which the
// store keeps too; what depends on how a function is addressed (its URN,
// the region) is not stored but derived by whoever shows it. Fields the
// platform cannot act on are kept and returned (the docs list them).
type Function struct {
	// Identity, set by the platform.
	ID          string `json:"func_id"`
	Name        string `json:"func_name"`    //
	DomainID    string `json:"domain_id"`    // the tenant (domain) owning the project
	Project     string `json:"namespace"`    // project ID
	ProjectName string `json:"project_name"` // the region name, as on the real service
	Package     string `json:"package"`
	Version     string `json:"version"` // "latest"
	ImageName   string `json:"image_name"`
	ResourceID  string `json:"resource_id"`
	// Seq orders functions for stable pagination; it never changes.
	Seq int64 `json:"-"`
	// Revision is assigned by the store on every write, from one counter
	// that only grows: a higher revision is a later state, whichever
	// function it belongs to. An update names the revision it was based
	// on and fails with RevisionConflict if the function moved since.
	Revision int64 `json:"-"`

	Config

	// Code, derived from the uploaded package.
	CodeType     string `json:"code_type"`
	CodeURL      string `json:"code_url"`
	CodeFilename string `json:"code_filename"`
	CodeSize     int64  `json:"code_size"`
	// UnpackedBytes is the disk the package takes unpacked (its files
	// plus a block per entry; 0 for code that is not unpacked). It counts
	// against the code-storage quota with CodeSize; it is not on the wire.
	UnpackedBytes     int64     `json:"-"`
	Digest            string    `json:"digest"` // hex SHA-512 of the package
	CPU               int32     `json:"cpu"`    // millicores, derived from memory_size
	LastModified      time.Time `json:"last_modified"`
	DependVersionList []string  `json:"depend_version_list"`
	// CodeEncryptKMSKeyID is stored and returned; openfgs does not
	// encrypt with KMS.
	CodeEncryptKMSKeyID string `json:"code_encrypt_kms_key_id,omitempty"`
}

// Config is the part of a function a client sets with CreateFunction and
// UpdateFunctionConfig.
type Config struct {
	Runtime            string            `json:"runtime"`
	Timeout            int32             `json:"timeout"`
	Handler            string            `json:"handler"`
	MemorySize         int32             `json:"memory_size"`
	GPUMemory          *int32            `json:"gpu_memory,omitempty"`
	GPUType            string            `json:"gpu_type,omitempty"`
	UserData           string            `json:"user_data"`
	EncryptedUserData  string            `json:"encrypted_user_data"`
	Xrole              string            `json:"xrole"`
	AppXrole           string            `json:"app_xrole"`
	Description        string            `json:"description"`
	FuncVpc            *FuncVpc          `json:"func_vpc,omitempty"`
	PeeringCidr        string            `json:"peering_cidr,omitempty"`
	MountConfig        *MountConfig      `json:"mount_config,omitempty"`
	StrategyConfig     StrategyConfig    `json:"strategy_config"`
	CustomImage        *CustomImage      `json:"custom_image,omitempty"`
	ExtendConfig       string            `json:"extend_config"`
	InitializerHandler string            `json:"initializer_handler"`
	InitializerTimeout int32             `json:"initializer_timeout"`
	PreStopHandler     string            `json:"pre_stop_handler"`
	PreStopTimeout     int32             `json:"pre_stop_timeout"`
	EphemeralStorage   int32             `json:"ephemeral_storage"`
	EnterpriseProject  string            `json:"enterprise_project_id"`
	Type               string            `json:"type"`
	LogConfig          *FuncLogConfig    `json:"log_config,omitempty"`
	NetworkController  *NetworkControl   `json:"network_controller,omitempty"`
	IsStateful         bool              `json:"is_stateful_function"`
	EnableDynamicMem   bool              `json:"enable_dynamic_memory"`
	EnableAuthInHeader bool              `json:"enable_auth_in_header"`
	EnableLTSLog       bool              `json:"enable_lts_log"`
	LTSCustomTag       map[string]string `json:"lts_custom_tag,omitempty"`
	DomainNames        string            `json:"domain_names,omitempty"`
	RestoreHookHandler string            `json:"restore_hook_handler,omitempty"`
	RestoreHookTimeout int32             `json:"restore_hook_timeout,omitempty"`
	HeartbeatHandler   string            `json:"heartbeat_handler,omitempty"`
	EnableClassIsolate bool              `json:"enable_class_isolation"`
	UserDataKMSKeyID   string            `json:"user_data_encrypt_kms_key_id,omitempty"`
	Tags               string            `json:"tags,omitempty"`
	LogGroupID         string            `json:"log_group_id"`
	LogStreamID        string            `json:"log_stream_id"`
}

// FuncVpc is a function's VPC attachment.
type FuncVpc struct {
	DomainID       string   `json:"domain_id,omitempty"`
	Namespace      string   `json:"namespace,omitempty"`
	VpcName        string   `json:"vpc_name,omitempty"`
	VpcID          string   `json:"vpc_id"`
	SubnetName     string   `json:"subnet_name,omitempty"`
	SubnetID       string   `json:"subnet_id"`
	Cidr           string   `json:"cidr,omitempty"`
	Gateway        string   `json:"gateway,omitempty"`
	SecurityGroups []string `json:"security_groups,omitempty"`
	IsSafety       *bool    `json:"is_safety,omitempty"`
}

// MountConfig lists file systems mounted into a function's instances.
type MountConfig struct {
	MountUser  *MountUser  `json:"mount_user"`
	FuncMounts []FuncMount `json:"func_mounts"`
}

// MountUser is the uid and gid a function's mounts are accessed as.
type MountUser struct {
	UserID      int32 `json:"user_id"`
	UserGroupID int32 `json:"user_group_id"`
}

// FuncMount is one mounted file system.
type FuncMount struct {
	MountType      string `json:"mount_type"`
	MountResource  string `json:"mount_resource"`
	MountSharePath string `json:"mount_share_path,omitempty"`
	LocalMountPath string `json:"local_mount_path"`
	Status         string `json:"status,omitempty"`
}

// StrategyConfig sets how far a function scales. Concurrency is the
// maximum number of instances (-1 unlimited, 0 disabled); ConcurrentNum
// is how many requests one instance serves at once.
type StrategyConfig struct {
	Concurrency   int32 `json:"concurrency"`
	ConcurrentNum int32 `json:"concurrent_num"`
}

// CustomImage configures a function that runs a container image.
type CustomImage struct {
	Enabled    *bool  `json:"enabled,omitempty"`
	Image      string `json:"image,omitempty"`
	Command    string `json:"command,omitempty"`
	Args       string `json:"args,omitempty"`
	WorkingDir string `json:"working_dir,omitempty"`
	UID        string `json:"uid,omitempty"`
	GID        string `json:"gid,omitempty"`
	IsPublic   *bool  `json:"is_public,omitempty"`
}

// FuncLogConfig names the log group and stream a function logs to.
type FuncLogConfig struct {
	GroupName  string `json:"group_name,omitempty"`
	GroupID    string `json:"group_id,omitempty"`
	StreamName string `json:"stream_name,omitempty"`
	StreamID   string `json:"stream_id,omitempty"`
}

// NetworkControl restricts a function's network.
type NetworkControl struct {
	DisablePublicNetwork *bool       `json:"disable_public_network,omitempty"`
	TriggerAccessVpcs    []VpcConfig `json:"trigger_access_vpcs,omitempty"`
}

// VpcConfig names a VPC.
type VpcConfig struct {
	VpcName string `json:"vpc_name,omitempty"`
	VpcID   string `json:"vpc_id,omitempty"`
}

// Key returns the function's key.
func (f *Function) Key() Key { return Key{Project: f.Project, Package: f.Package, Name: f.Name} }

// StorageBytes is what f's code counts against the project's
// code-storage quota: the package and what it takes unpacked.
func (f *Function) StorageBytes() int64 { return f.CodeSize + f.UnpackedBytes }

// CPUFor returns the CPU share, in millicores, that FunctionGraph gives a
// function of memoryMB: memory/128*100 + 200.
func CPUFor(memoryMB int32) int32 { return memoryMB/128*100 + 200 }

// Clone returns a deep copy of f.
func (f *Function) Clone() *Function {
	c := *f
	c.DependVersionList = slices.Clone(f.DependVersionList)
	c.Config = f.Config.clone()
	return &c
}

func (c Config) clone() Config {
	c.GPUMemory = clonePtr(c.GPUMemory)
	if v := c.FuncVpc; v != nil {
		v2 := *v
		v2.SecurityGroups = slices.Clone(v.SecurityGroups)
		v2.IsSafety = clonePtr(v.IsSafety)
		c.FuncVpc = &v2
	}
	if m := c.MountConfig; m != nil {
		m2 := MountConfig{MountUser: clonePtr(m.MountUser), FuncMounts: slices.Clone(m.FuncMounts)}
		c.MountConfig = &m2
	}
	if ci := c.CustomImage; ci != nil {
		ci2 := *ci
		ci2.Enabled, ci2.IsPublic = clonePtr(ci.Enabled), clonePtr(ci.IsPublic)
		c.CustomImage = &ci2
	}
	c.LogConfig = clonePtr(c.LogConfig)
	if n := c.NetworkController; n != nil {
		n2 := NetworkControl{DisablePublicNetwork: clonePtr(n.DisablePublicNetwork), TriggerAccessVpcs: slices.Clone(n.TriggerAccessVpcs)}
		c.NetworkController = &n2
	}
	c.LTSCustomTag = maps.Clone(c.LTSCustomTag)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
