// Package context is the context a FunctionGraph Go 1.x handler receives:
// the request's identity and credentials, the function's configuration
// and a logger.
//
// A handler has the signature
//
//	func Handler(payload []byte, ctx context.RuntimeContext) (interface{}, error)
//
// and is registered with huaweicloud.com/go-runtime/pkg/runtime.Register.
package context

// RuntimeContext describes the invocation in progress and the function
// that serves it.
type RuntimeContext interface {
	// GetRequestID is the invocation's request id (X-Cff-Request-Id).
	GetRequestID() string
	// GetRemainingTimeInMilliSeconds is how long the invocation may still
	// run before it times out, never below 0.
	GetRemainingTimeInMilliSeconds() int
	// GetAccessKey and GetSecretKey are the agency's access key pair
	// (empty without an agency). FunctionGraph no longer maintains them;
	// use the Security variants.
	GetAccessKey() string
	GetSecretKey() string
	// GetSecurityAccessKey, GetSecuritySecretKey and GetSecurityToken are
	// the agency's temporary credentials (empty without an agency).
	GetSecurityAccessKey() string
	GetSecuritySecretKey() string
	GetSecurityToken() string
	// GetToken is the agency's IAM token (X-CFF-Auth-Token).
	GetToken() string
	// GetUserData returns the value of one of the function's environment
	// variables (encrypted ones included), or "" when it is not set.
	GetUserData(key string) string
	// GetFunctionName is the function's name.
	GetFunctionName() string
	// GetRunningTimeInSeconds is the function's configured timeout.
	GetRunningTimeInSeconds() int
	// GetVersion is the version being invoked ("latest", "v1", ...).
	GetVersion() string
	// GetMemorySize is the function's memory in MB.
	GetMemorySize() int
	// GetCPUNumber is the function's CPU in millicores.
	GetCPUNumber() int
	// GetPackage is the function's application (package), e.g. "default".
	GetPackage() string
	// GetProjectID is the function's project id.
	GetProjectID() string
	// GetLogger returns the logger that tags lines with the request id.
	GetLogger() RuntimeLogger
	// GetAlias is the alias the function was invoked through, or "".
	GetAlias() string
}

// RuntimeLogger writes log lines of an invocation.
type RuntimeLogger interface {
	// Logf formats its arguments like fmt.Printf and prints one line
	// "<UTC time> <request id> <message>" to standard output.
	Logf(format string, args ...interface{})
}
