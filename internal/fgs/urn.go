package fgs

import (
	"strings"
)

// LatestVersion is the version every function has: its current, mutable
// code and configuration.
const LatestVersion = "latest"

// URN names a function, optionally qualified by a version or an alias.
// Its full form is
//
//	urn:fss:<region>:<project>:function:<package>:<name>[:<version>|!<alias>]
//
// and ParseURN also accepts the shortened forms the API reference lists
// (1, 2, 3, 4, 7 and 8 fields).
type URN struct {
	Region    string
	Project   string
	Package   string
	Function  string
	Qualifier string // a version or an alias; "" means unqualified
	Alias     bool   // the qualifier was written with "!", so it is an alias
}

// URNDefaults fills what a shortened URN leaves out.
type URNDefaults struct {
	Region  string
	Project string
}

// DefaultPackage is the package a URN without one names.
const DefaultPackage = "default"

// MaxURNLength is the longest URN the API accepts (spec 5.13).
const MaxURNLength = 269

// ParseURN parses s in any of the forms the API reference allows. A form
// without a project takes def.Project; a form without a region takes
// def.Region; one without a package takes "default".
func ParseURN(s string, def URNDefaults) (URN, error) {
	bad := func(why string) (URN, error) {
		return URN{}, Errorf(Invalid, BadURN, "invalid function URN %q: %s", trimForMsg(s), why)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > MaxURNLength {
		return bad("longer than 269 characters")
	}
	f := strings.Split(s, ":")
	var u URN
	switch {
	case len(f) >= 7 && f[0] == "urn":
		if f[1] != "fss" || f[4] != "function" {
			return bad(`want "urn:fss:<region>:<project>:function:<package>:<name>"`)
		}
		if len(f) > 8 {
			return bad("too many fields")
		}
		u = URN{Region: f[2], Project: f[3], Package: f[5], Function: f[6]}
		if len(f) == 8 {
			u.Qualifier = f[7]
		}
		if u.Region == "" {
			return bad("empty region")
		}
	case f[0] == "urn":
		return bad("a URN starting with urn: needs 7 or 8 fields")
	case len(f) == 1:
		u = URN{Package: DefaultPackage, Function: f[0]}
	case len(f) == 2:
		u = URN{Package: f[0], Function: f[1]}
	case len(f) == 3:
		u = URN{Project: f[0], Package: f[1], Function: f[2]}
	case len(f) == 4:
		u = URN{Project: f[0], Package: f[1], Function: f[2], Qualifier: f[3]}
	default:
		return bad("want 1, 2, 3, 4, 7 or 8 fields")
	}
	// "name!alias" attaches an alias to the name; ":!alias" is a qualifier.
	if i := strings.IndexByte(u.Function, '!'); i >= 0 {
		if u.Qualifier != "" {
			return bad("both a version and an alias")
		}
		u.Function, u.Qualifier, u.Alias = u.Function[:i], u.Function[i+1:], true
		if u.Qualifier == "" {
			return bad("empty alias after !")
		}
	} else if strings.HasPrefix(u.Qualifier, "!") {
		u.Qualifier, u.Alias = u.Qualifier[1:], true
		if u.Qualifier == "" {
			return bad("empty alias after !")
		}
	} else if len(f) == 4 || len(f) == 8 {
		if u.Qualifier == "" {
			return bad("empty version")
		}
	}
	if u.Region == "" {
		u.Region = def.Region
	}
	if u.Project == "" {
		if len(f) == 3 || len(f) == 4 {
			return bad("empty project")
		}
		u.Project = def.Project
	}
	if err := ValidateProjectID(u.Project); err != nil {
		return bad("bad project id")
	}
	if err := ValidatePackage(u.Package); err != nil {
		return bad(MessageOf(err))
	}
	if err := ValidateFunctionName(u.Function); err != nil {
		return bad(MessageOf(err))
	}
	if u.Qualifier != "" && !validQualifier(u.Qualifier) {
		return bad("bad version or alias")
	}
	return u, nil
}

// String returns the full URN, with its qualifier if it has one.
func (u URN) String() string {
	s := u.Unqualified()
	switch {
	case u.Qualifier == "":
	case u.Alias:
		s += "!" + u.Qualifier
	default:
		s += ":" + u.Qualifier
	}
	return s
}

// Unqualified returns the 7-field URN of the function itself.
func (u URN) Unqualified() string {
	return "urn:fss:" + u.Region + ":" + u.Project + ":function:" + u.Package + ":" + u.Function
}

// Version returns the version u names: its qualifier, or "latest" when it
// has none. It returns "" for an alias.
func (u URN) Version() string {
	if u.Alias {
		return ""
	}
	if u.Qualifier == "" {
		return LatestVersion
	}
	return u.Qualifier
}

// Key identifies a function within the platform.
type Key struct {
	Project string
	Package string
	Name    string
}

// Key returns the function key of u, dropping region and qualifier.
func (u URN) Key() Key { return Key{Project: u.Project, Package: u.Package, Name: u.Function} }

// validQualifier accepts version and alias names: letters, digits, '-',
// '_' and '.', starting with a letter or digit, at most 128 bytes.
func validQualifier(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// ValidateFunctionName checks a function name: 1 to 60 characters of
// letters, digits, '-' and '_', starting with a letter and ending with a
// letter or digit (the console's rule).
func ValidateFunctionName(s string) error {
	if !identifier(s, 60) {
		return Errorf(Invalid, BadFunctionName, "invalid function name %q: use 1-60 letters, digits, '-' or '_', starting with a letter and ending with a letter or digit", trimForMsg(s))
	}
	return nil
}

// ValidatePackage checks a package (function app) name with the same
// rule as function names, up to 64 characters.
func ValidatePackage(s string) error {
	if !identifier(s, 64) {
		return Errorf(Invalid, BadPackageName, "invalid package %q: use 1-64 letters, digits, '-' or '_', starting with a letter and ending with a letter or digit", trimForMsg(s))
	}
	return nil
}

// ValidateProjectID checks a project ID: 1 to 64 letters, digits, '-' or
// '_'. Generated IDs are 32 lower-case hex digits, as on the real service.
func ValidateProjectID(s string) error {
	if len(s) == 0 || len(s) > 64 {
		return Errorf(Invalid, NoReason, "invalid project id")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
			return Errorf(Invalid, NoReason, "invalid project id")
		}
	}
	return nil
}

func identifier(s string, max int) bool {
	if len(s) == 0 || len(s) > max || !isLetter(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// trimForMsg keeps error messages bounded when the input is huge.
func trimForMsg(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
