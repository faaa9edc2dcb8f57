package fgs

import (
	"errors"
	"fmt"
)

// Kind says what class of failure an error is. The API edge maps a Kind
// (or a more specific FSS code carried by the error) to an HTTP status.
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

// Error is openfgs's error type. Code, when set, is the FSS error code the
// API must answer with (for example "FSS.1051"); otherwise the API derives
// one from Kind. Msg is safe to show a client; Err is the cause, logged
// but never sent.
type Error struct {
	Op   string // the operation, e.g. "store.CreateFunction"
	Kind Kind
	Code string
	Msg  string
	Err  error
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
	add(e.Msg)
	if e.Err != nil {
		add(e.Err.Error())
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error. Arguments are interpreted by type: a string is the
// Op, a Kind is the Kind, a Code is the FSS code, a Msg is the client
// message, and an error is the cause.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			e.Op = a
		case Kind:
			e.Kind = a
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

// Code is an FSS error code such as "FSS.1051".
type Code string

// Msg is the message a client may see.
type Msg string

// Errorf is shorthand for an error with a kind, an FSS code and a
// formatted client message.
func Errorf(kind Kind, code string, format string, args ...any) error {
	return &Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...)}
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
