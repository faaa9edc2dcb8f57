package fgs

import (
	"errors"
	"fmt"
)

// Kind says what class of failure an error is. The API edge maps a Kind
// and Reason to an HTTP status.
// Append only: values are never renumbered.
type Kind uint8

const (
	Other        Kind = iota // unclassified: a platform fault
	Invalid                  // the request is malformed or a value is out of range
	NotFound                 // the named resource does not exist
	Exists                   // the resource already exists
	Forbidden                // authenticated, but not allowed
	Unauthorized             // not authenticated
	Quota                    // a tenant quota would be exceeded
	TooLarge                 // a body or package is over its size limit
	Unavailable              // the platform cannot do it now or here
	Conflict                 // the resource's state does not allow it
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Exists:
		return "exists"
	case Forbidden:
		return "forbidden"
	case Unauthorized:
		return "unauthorized"
	case Quota:
		return "quota exceeded"
	case TooLarge:
		return "too large"
	case Unavailable:
		return "unavailable"
	case Conflict:
		return "conflict"
	}
	return "internal"
}

// Reason names one specific failure, finer than its Kind, that a caller
// may need to tell apart: the API edge answers each with its own FSS code,
// a trigger may retry a RevisionConflict. Append only: values are never
// renumbered.
type Reason uint16

const (
	NoReason           Reason = iota
	FunctionNotFound          // no function with that key
	FunctionExists            // the key is taken
	VersionNotFound           // the function has no such version
	AliasNotFound             // the function has no such alias
	TooManyFunctions          // the project's function quota is used up
	CodeQuotaExceeded         // the project's code-storage quota would be passed
	RevisionConflict          // the function changed since it was read
	BadURN                    // a function URN does not parse
	BadFunctionName           // a function name breaks the naming rules
	BadPackageName            // a package (app) name breaks the naming rules
	BadCodeType               // code_type missing, unknown or wrong for the runtime
	CodeMissing               // no code was given, or it is empty
	BadCodeEncoding           // the package is not valid base64 or a valid archive, or unpacks past the limits
	BadCodeFilename           // code_filename is not a plain file name
	CodeTooLarge              // the package is over its size limit
	InlineCodeTooLarge        // inline code is over its size limit
	DependencyNotFound        // a named dependency does not exist
	BadUserData               // user_data is not a JSON object of strings
	Throttled                 // no instance could take the call in time
)

var reasonNames = [...]string{
	NoReason: "", FunctionNotFound: "function not found", FunctionExists: "function exists",
	VersionNotFound: "version not found", AliasNotFound: "alias not found",
	TooManyFunctions: "too many functions", CodeQuotaExceeded: "code quota exceeded",
	RevisionConflict: "revision conflict", BadURN: "bad URN", BadFunctionName: "bad function name",
	BadPackageName: "bad package name", BadCodeType: "bad code type", CodeMissing: "code missing",
	BadCodeEncoding: "bad code encoding", BadCodeFilename: "bad code filename",
	CodeTooLarge: "code too large", InlineCodeTooLarge: "inline code too large",
	DependencyNotFound: "dependency not found", BadUserData: "bad user data", Throttled: "throttled",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint16(r))
}

// Error is openfgs's error type. Kind classifies it and Reason, when set,
// names the exact failure; the API edge chooses the FSS code from them.
// Code is set only by the API package itself, for failures of the wire
// format that have no domain meaning. Msg is safe to show a client; Err
// is the cause, logged but never sent.
type Error struct {
	Op     string // the operation, e.g. "store.CreateFunction"
	Kind   Kind
	Reason Reason
	Code   string // an FSS code, set only at the API edge
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	s := e.Op
	add := func(part string) {
		if part == "" {
			return
		}
		if s != "" {
			s += ": "
		}
		s += part
	}
	if e.Code != "" {
		add(e.Code)
	}
	if e.Reason != NoReason {
		add(e.Reason.String())
	}
	add(e.Msg)
	if e.Err != nil {
		add(e.Err.Error())
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error. Arguments are interpreted by type: a string is the
// Op, a Kind is the Kind, a Reason is the Reason, a Code is the FSS code
// (API edge only), a Msg is the client message, and an error is the
// cause.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			e.Op = a
		case Kind:
			e.Kind = a
		case Reason:
			e.Reason = a
		case Code:
			e.Code = string(a)
		case Msg:
			e.Msg = string(a)
		case *Error:
			cp := *a
			e.Err = &cp
			if e.Kind == Other {
				e.Kind = a.Kind
			}
		case error:
			e.Err = a
			if e.Kind == Other {
				e.Kind = KindOf(a)
			}
		default:
			panic(fmt.Sprintf("fgs.E: bad argument %T", a))
		}
	}
	return e
}

// Code is an FSS error code such as "FSS.1051". Only the API edge sets
// one; everything below it says Kind and Reason.
type Code string

// Msg is the message a client may see.
type Msg string

// Errorf is shorthand for an error with a kind, a reason (NoReason when
// the kind says enough) and a formatted client message.
func Errorf(kind Kind, r Reason, format string, args ...any) error {
	return &Error{Kind: kind, Reason: r, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of the first *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	for errors.As(err, &e) {
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
		if err == nil {
			break
		}
	}
	return Other
}

// CodeOf returns the first FSS code in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	for errors.As(err, &e) {
		if e.Code != "" {
			return e.Code
		}
		err = e.Err
		if err == nil {
			break
		}
	}
	return ""
}

// ReasonOf returns the first Reason in err's chain, or NoReason.
func ReasonOf(err error) Reason {
	var e *Error
	for errors.As(err, &e) {
		if e.Reason != NoReason {
			return e.Reason
		}
		err = e.Err
		if err == nil {
			break
		}
	}
	return NoReason
}

// MessageOf returns the first client-safe message in err's chain, or "".
func MessageOf(err error) string {
	var e *Error
	for errors.As(err, &e) {
		if e.Msg != "" {
			return e.Msg
		}
		err = e.Err
		if err == nil {
			break
		}
	}
	return ""
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
