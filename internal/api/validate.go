package api

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/openfgs/openfgs/internal/fgs"
)

// runtimes are the runtime enums the API accepts: the reference's list
// plus the ones the official SDK adds. Whether a node can run one is the
// executor's business, not the API's.
var runtimes = map[string]bool{
	"Java8": true, "Java11": true, "Java17": true,
	"Python2.7": true, "Python3.6": true, "Python3.9": true, "Python3.10": true,
	"Go1.8": true, "Go1.x": true,
	"Node.js6.10": true, "Node.js8.10": true, "Node.js10.16": true, "Node.js12.13": true,
	"Node.js14.18": true, "Node.js16.17": true, "Node.js18.15": true,
	"C#(.NET Core 2.0)": true, "C#(.NET Core 2.1)": true, "C#(.NET Core 3.1)": true, "C#(.NET Core 6.0)": true,
	"Custom": true, "PHP7.3": true, "PHP8.3": true, "Cangjie1.0": true, "http": true,
	"Custom Image": true,
}

var memorySizes = map[int32]bool{128: true, 256: true, 512: true, 768: true, 1024: true, 1280: true,
	1536: true, 1792: true, 2048: true, 2560: true, 3072: true, 3584: true, 4096: true}

// inertFields are configuration fields openfgs stores and returns but that
// have no effect on this platform (no VPCs, IAM agencies, KMS, LTS, SFS or
// enterprise projects here). Responses that accept them name the ones a
// request set in the X-Openfgs-Inert-Fields header; the docs list them.
var inertFields = map[string]bool{
	"func_vpc": true, "peering_cidr": true, "xrole": true, "app_xrole": true,
	"mount_config": true, "enterprise_project_id": true, "log_config": true,
	"enable_lts_log": true, "lts_custom_tag": true, "user_data_encrypt_kms_key_id": true,
	"code_encrypt_kms_key_id": true, "domain_names": true, "tags": true,
	"enable_dynamic_memory": true, "is_stateful_function": true, "enable_auth_in_header": true,
	"restore_hook_handler": true, "restore_hook_timeout": true, "heartbeat_handler": true,
	"enable_class_isolation": true, "log_group_id": true,
	"log_stream_id": true, "type": true, "pre_stop_handler": true, "pre_stop_timeout": true,
	"custom_image": true, "extend_config": true,
}

var requiredCode = map[string]string{
	"func_name": "FSS.1002", "package": "FSS.1004", "runtime": "FSS.1005", "timeout": "FSS.1008",
	"handler": "FSS.1003", "memory_size": "FSS.1007", "code_type": "FSS.1006", "func_code": "FSS.1012",
}

func invalid(code, format string, args ...any) error {
	return fss(fgs.Invalid, code, format, args...)
}

// handlerFree are runtimes whose handler is not "file.function".
var handlerFree = map[string]bool{"Custom": true, "http": true, "Go1.x": true, "Custom Image": true}

// validateConfig checks every field of c against the reference's ranges.
func validateConfig(c *fgs.Config) error {
	if !runtimes[c.Runtime] {
		return invalid("FSS.1005", "invalid runtime %q", trimForMsg(c.Runtime))
	}
	if c.Timeout < 3 || c.Timeout > 900 {
		return invalid("FSS.1008", "timeout %d is out of range: use 3 to 900 seconds", c.Timeout)
	}
	if !memorySizes[c.MemorySize] {
		return invalid("FSS.1007", "memory_size %d is not one of 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096", c.MemorySize)
	}
	if !validHandler(c.Handler, handlerFree[c.Runtime]) {
		return invalid("FSS.1003", "invalid handler %q: use file.function (at most 128 characters)", trimForMsg(c.Handler))
	}
	if c.InitializerHandler != "" && !validHandler(c.InitializerHandler, handlerFree[c.Runtime]) {
		return invalid("FSS.1404", "invalid initializer_handler %q: use file.function", trimForMsg(c.InitializerHandler))
	}
	if c.InitializerHandler != "" || c.InitializerTimeout != 0 {
		if c.InitializerTimeout < 1 || c.InitializerTimeout > 300 {
			return invalid("FSS.1405", "initializer_timeout %d is out of range: use 1 to 300 seconds", c.InitializerTimeout)
		}
	}
	if c.PreStopHandler != "" && !validHandler(c.PreStopHandler, handlerFree[c.Runtime]) {
		return invalid("FSS.0400", "invalid pre_stop_handler %q: use file.function", trimForMsg(c.PreStopHandler))
	}
	if c.PreStopHandler != "" || c.PreStopTimeout != 0 {
		if c.PreStopTimeout < 1 || c.PreStopTimeout > 90 {
			return invalid("FSS.0400", "pre_stop_timeout %d is out of range: use 1 to 90 seconds", c.PreStopTimeout)
		}
	}
	if c.RestoreHookHandler != "" && !validHandler(c.RestoreHookHandler, false) {
		return invalid("FSS.0400", "invalid restore_hook_handler %q", trimForMsg(c.RestoreHookHandler))
	}
	if c.RestoreHookTimeout != 0 && (c.RestoreHookTimeout < 1 || c.RestoreHookTimeout > 300) {
		return invalid("FSS.0400", "restore_hook_timeout %d is out of range: use 1 to 300 seconds", c.RestoreHookTimeout)
	}
	if err := validateUserData("user_data", c.UserData); err != nil {
		return err
	}
	if err := validateUserData("encrypted_user_data", c.EncryptedUserData); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(c.Description); n > 512 {
		return invalid("FSS.1019", "description has %d characters; at most 512 are allowed", n)
	}
	sc := c.StrategyConfig
	if sc.Concurrency < -1 || sc.Concurrency > 1000 {
		return invalid("FSS.1026", "strategy_config.concurrency %d is out of range: use -1 (unlimited), 0 (disabled) or up to 1000", sc.Concurrency)
	}
	if sc.ConcurrentNum < -1 || sc.ConcurrentNum == 0 || sc.ConcurrentNum > 1000 {
		return invalid("FSS.1026", "strategy_config.concurrent_num %d is out of range: use -1 or 1 to 1000", sc.ConcurrentNum)
	}
	if c.EphemeralStorage != 512 && c.EphemeralStorage != 10240 {
		return invalid("FSS.0400", "ephemeral_storage %d must be 512 or 10240 (MB)", c.EphemeralStorage)
	}
	if c.Type != "v1" && c.Type != "v2" {
		return invalid("FSS.0400", "type %q must be v1 or v2", trimForMsg(c.Type))
	}
	if (c.GPUMemory != nil && *c.GPUMemory != 0) || c.GPUType != "" {
		return invalid("FSS.0400", "GPU functions are not supported: openfgs nodes have no GPUs (unset gpu_memory and gpu_type)")
	}
	if v := c.FuncVpc; v != nil && (v.VpcID == "" || v.SubnetID == "") {
		return invalid("FSS.0400", "func_vpc needs vpc_id and subnet_id")
	}
	if err := validateMounts(c.MountConfig); err != nil {
		return err
	}
	if ci := c.CustomImage; c.Runtime == "Custom Image" && (ci == nil || ci.Image == "") {
		return invalid("FSS.1034", "runtime Custom Image needs custom_image.image")
	}
	return nil
}

func validHandler(h string, free bool) bool {
	if h == "" || len(h) > 128 || strings.ContainsAny(h, "\x00\n\r") {
		return false
	}
	if free {
		return true
	}
	i := strings.LastIndexByte(h, '.')
	return i > 0 && i < len(h)-1
}

// validateUserData checks a user_data string: a JSON object of at most 20
// string values, at most 4 KB in all.
func validateUserData(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > 4096 {
		return invalid("FSS.1018", "%s is %d bytes; at most 4096 are allowed", field, len(s))
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return invalid("FSS.1009", `%s must be a JSON object of string values, such as {"KEY":"value"}`, field)
	}
	if len(m) > 20 {
		return invalid("FSS.1017", "%s has %d items; at most 20 are allowed", field, len(m))
	}
	for k, v := range m {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return invalid("FSS.1009", "%s has an invalid variable name %q", field, trimForMsg(k))
		}
		if strings.IndexByte(v, 0) >= 0 {
			return invalid("FSS.1009", "%s: the value of %q has a NUL character, which an environment variable cannot hold", field, trimForMsg(k))
		}
	}
	return nil
}

func validateMounts(mc *fgs.MountConfig) error {
	if mc == nil {
		return nil
	}
	if u := mc.MountUser; u != nil {
		for _, id := range []int32{u.UserID, u.UserGroupID} {
			if id < -1 || id > 65534 || id == 0 || id == 1000 || id == 1002 {
				return invalid("FSS.1075", "mount_user ids must be integers from -1 to 65534, excluding 0, 1000 and 1002 (got %d)", id)
			}
		}
	}
	if len(mc.FuncMounts) > 5 {
		return fss(fgs.Quota, "FSS.1049", "%d file systems are mounted; at most 5 are allowed", len(mc.FuncMounts))
	}
	for _, m := range mc.FuncMounts {
		switch m.MountType {
		case "sfs", "sfsTurbo", "ecs":
		default:
			return invalid("FSS.0400", "mount_type %q must be sfs, sfsTurbo or ecs", trimForMsg(m.MountType))
		}
		if m.MountResource == "" {
			return invalid("FSS.0400", "func_mounts[].mount_resource is required")
		}
		if !strings.HasPrefix(m.LocalMountPath, "/") || strings.Contains(m.LocalMountPath, "..") {
			return invalid("FSS.1039", "local_mount_path %q must be an absolute path", trimForMsg(m.LocalMountPath))
		}
	}
	return nil
}
