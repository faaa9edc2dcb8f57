package storetest

import (
	"strings"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// function returns a small function of project: enough for the store,
// not a complete one (fullFunction is).
func function(project, pkg, name string, size int64, digest string) *fgs.Function {
	return &fgs.Function{
		ID:          "id-" + project + "-" + pkg + "-" + name,
		Name:        name,
		DomainID:    domain1.ID,
		Project:     project,
		ProjectName: "cn-north-4",
		Package:     pkg,
		Version:     fgs.LatestVersion,
		Config: fgs.Config{
			Runtime:    "Python3.9",
			Timeout:    30,
			Handler:    "index.handler",
			MemorySize: 128,
		},
		CodeType:     "zip",
		CodeSize:     size,
		Digest:       digest,
		CPU:          fgs.CPUFor(128),
		LastModified: when,
	}
}

// fullFunction returns a function with every field set, nested structs
// and pointers included; the round-trip test checks, by reflection, that
// it really is complete, so a field added to fgs.Function is caught until
// it is set here too.
func fullFunction(project, pkg, name string) *fgs.Function {
	yes, no := true, false
	gpu := int32(16384)
	return &fgs.Function{
		ID:          "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
		Name:        name,
		DomainID:    domain1.ID,
		Project:     project,
		ProjectName: "cn-north-4",
		Package:     pkg,
		Version:     fgs.LatestVersion,
		ImageName:   "latest-240506070809",
		ResourceID:  "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9:latest",
		Seq:         0, // the store assigns it

		Config: fgs.Config{
			Runtime:           "Custom Image",
			Timeout:           900,
			Handler:           "-",
			MemorySize:        4096,
			GPUMemory:         &gpu,
			GPUType:           "nvidia-t4",
			UserData:          `{"LOG_LEVEL":"debug","QUOTE":"\"<&>\" ünïcødé"}`,
			EncryptedUserData: `{"SECRET":"c2VjcmV0"}`,
			Xrole:             "fgs-agency",
			AppXrole:          "fgs-app-agency",
			Description:       "a function with\nevery field set",
			FuncVpc: &fgs.FuncVpc{
				DomainID:       domain1.ID,
				Namespace:      project,
				VpcName:        "vpc-default",
				VpcID:          "vpc-0001",
				SubnetName:     "subnet-default",
				SubnetID:       "subnet-0001",
				Cidr:           "192.168.0.0/24",
				Gateway:        "192.168.0.1",
				SecurityGroups: []string{"sg-1", "sg-2"},
				IsSafety:       &no,
			},
			PeeringCidr: "10.0.0.0/16;10.1.0.0/16",
			MountConfig: &fgs.MountConfig{
				MountUser: &fgs.MountUser{UserID: 1000, UserGroupID: 1001},
				FuncMounts: []fgs.FuncMount{
					{MountType: "sfs", MountResource: "sfs-1", MountSharePath: "/share", LocalMountPath: "/mnt/a", Status: "active"},
					{MountType: "ecs", MountResource: "ecs-2", MountSharePath: "/data", LocalMountPath: "/mnt/b", Status: "disabled"},
				},
			},
			StrategyConfig: fgs.StrategyConfig{Concurrency: -1, ConcurrentNum: 10},
			CustomImage: &fgs.CustomImage{
				Enabled:    &yes,
				Image:      "swr.cn-north-4.example/org/app:1.2",
				Command:    "/bin/sh",
				Args:       "-c,run",
				WorkingDir: "/app",
				UID:        "1003",
				GID:        "1004",
				IsPublic:   &no,
			},
			ExtendConfig:       `{"enable_x":true}`,
			InitializerHandler: "index.init",
			InitializerTimeout: 60,
			PreStopHandler:     "index.stop",
			PreStopTimeout:     15,
			EphemeralStorage:   10240,
			EnterpriseProject:  "0",
			Type:               "v2",
			LogConfig: &fgs.FuncLogConfig{
				GroupName:  "lg-name",
				GroupID:    "lg-id",
				StreamName: "ls-name",
				StreamID:   "ls-id",
			},
			NetworkController: &fgs.NetworkControl{
				DisablePublicNetwork: &yes,
				TriggerAccessVpcs: []fgs.VpcConfig{
					{VpcName: "vpc-a", VpcID: "vpc-id-a"},
					{VpcName: "vpc-b", VpcID: "vpc-id-b"},
				},
			},
			IsStateful:         true,
			EnableDynamicMem:   true,
			EnableAuthInHeader: true,
			EnableLTSLog:       true,
			LTSCustomTag:       map[string]string{"team": "core", "env": "test"},
			DomainNames:        `[{"domain":"example.com"}]`,
			RestoreHookHandler: "index.restore",
			RestoreHookTimeout: 20,
			HeartbeatHandler:   "index.heartbeat",
			EnableClassIsolate: true,
			UserDataKMSKeyID:   "kms-userdata",
			Tags:               "k1=v1,k2=v2",
			LogGroupID:         "lg-id",
			LogStreamID:        "ls-id",
		},

		CodeType:            "zip",
		CodeURL:             "https://obs.example/bucket/code.zip",
		CodeFilename:        "code.zip",
		CodeSize:            123456,
		UnpackedBytes:       234567,
		Digest:              strings.Repeat("ab", 64),
		CPU:                 fgs.CPUFor(4096),
		LastModified:        time.Date(2024, 5, 6, 7, 8, 9, 987654000, time.FixedZone("", -5*3600)),
		DependVersionList:   []string{"dep-1:1", "dep-2:3"},
		CodeEncryptKMSKeyID: "kms-code",
	}
}
