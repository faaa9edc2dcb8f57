package fgs

import (
	"strings"
	"testing"
)

var def = URNDefaults{Region: "cn-north-4", Project: "p0"}

func TestParseURN_Forms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want URN
	}{
		{"fn", URN{Region: "cn-north-4", Project: "p0", Package: "default", Function: "fn"}},
		{"pkg:fn", URN{Region: "cn-north-4", Project: "p0", Package: "pkg", Function: "fn"}},
		{"p1:pkg:fn", URN{Region: "cn-north-4", Project: "p1", Package: "pkg", Function: "fn"}},
		{"p1:pkg:fn:latest", URN{Region: "cn-north-4", Project: "p1", Package: "pkg", Function: "fn", Qualifier: "latest"}},
		{"p1:pkg:fn:!prod", URN{Region: "cn-north-4", Project: "p1", Package: "pkg", Function: "fn", Qualifier: "prod", Alias: true}},
		{"urn:fss:ap-southeast-1:p1:function:pkg:fn", URN{Region: "ap-southeast-1", Project: "p1", Package: "pkg", Function: "fn"}},
		{"urn:fss:r:p1:function:pkg:fn:v2", URN{Region: "r", Project: "p1", Package: "pkg", Function: "fn", Qualifier: "v2"}},
		{"urn:fss:r:p1:function:pkg:fn:!dev", URN{Region: "r", Project: "p1", Package: "pkg", Function: "fn", Qualifier: "dev", Alias: true}},
		{"urn:fss:r:p1:function:pkg:fn!dev", URN{Region: "r", Project: "p1", Package: "pkg", Function: "fn", Qualifier: "dev", Alias: true}},
		{"fn!dev", URN{Region: "cn-north-4", Project: "p0", Package: "default", Function: "fn", Qualifier: "dev", Alias: true}},
	} {
		got, err := ParseURN(tc.in, def)
		if err != nil || got != tc.want {
			t.Errorf("ParseURN(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseURN_Invalid(t *testing.T) {
	for _, in := range []string{
		"", ":", "a:b:c:d:e", "a:b:c:d:e:f", "urn:fss:r:p:function:pkg", "urn:xxx:r:p:function:pkg:fn",
		"urn:fss:r:p:func:pkg:fn", "urn:fss::p:function:pkg:fn", "urn:fss:r:p:function:pkg:fn:v1:extra",
		"1fn", "fn-", "pkg:", ":fn", "p1::fn", "p1:pkg:fn:", "fn!", "fn:!", "urn:fss:r:p:function:pkg:fn!a:b",
		"fn!a!b", "p/1:pkg:fn", "fn with space", strings.Repeat("f", 61), strings.Repeat("x", 300),
		"urn:fss:r:p:function:pkg:fn:-v", "urn:fss:r:p:function:d=x:fn",
	} {
		if u, err := ParseURN(in, def); err == nil || ReasonOf(err) != BadURN || KindOf(err) != Invalid {
			t.Errorf("ParseURN(%q) = %+v, %v; want a BadURN error", in, u, err)
		}
	}
}

func TestURN_StringRoundTrip(t *testing.T) {
	for _, in := range []string{
		"urn:fss:r:p1:function:pkg:fn",
		"urn:fss:r:p1:function:pkg:fn:latest",
		"urn:fss:r:p1:function:pkg:fn!prod",
	} {
		u, err := ParseURN(in, def)
		if err != nil || u.String() != in {
			t.Errorf("ParseURN(%q).String() = %q, %v", in, u.String(), err)
		}
	}
	u, _ := ParseURN("pkg:fn", def)
	if u.Version() != LatestVersion || u.Unqualified() != "urn:fss:cn-north-4:p0:function:pkg:fn" {
		t.Errorf("Version/Unqualified = %q, %q", u.Version(), u.Unqualified())
	}
	if k := u.Key(); k != (Key{Project: "p0", Package: "pkg", Name: "fn"}) {
		t.Errorf("Key = %+v", k)
	}
}

// FuzzParseURN checks that parsing never panics, and that whatever parses
// prints back to a URN that parses to the same value.
func FuzzParseURN(f *testing.F) {
	for _, s := range []string{"fn", "pkg:fn", "p:pkg:fn", "p:pkg:fn:latest", "urn:fss:r:p:function:pkg:fn",
		"urn:fss:r:p:function:pkg:fn:v1", "urn:fss:r:p:function:pkg:fn!a", "fn!a", "::::::::", "urn:fss:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURN(s, def)
		if err != nil {
			if ReasonOf(err) != BadURN {
				t.Fatalf("ParseURN(%q) error %v has no BadURN reason", s, err)
			}
			return
		}
		again, err := ParseURN(u.String(), def)
		if err != nil || again != u {
			t.Fatalf("ParseURN(%q) = %+v; reparsing %q gives %+v, %v", s, u, u.String(), again, err)
		}
	})
}
