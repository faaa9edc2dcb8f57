package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/functions"
)

// object is a request body parsed once into its top-level fields, each
// decoded on its own when a handler asks for it. A code upload carries up
// to ~68 MB of base64, so the body is scanned once, not once per struct it
// feeds. Keys are matched case-insensitively, as encoding/json does.
type object map[string]json.RawMessage

// parseObject parses a JSON object body.
func parseObject(body []byte) (object, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(body, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fss(fgs.Invalid, "FSS.0400", "request body must be a JSON object, not null")
	}
	o := make(object, len(raw))
	for k, v := range raw {
		o[strings.ToLower(k)] = v
	}
	return o, nil
}

// has reports whether name is present and not null.
func (o object) has(name string) bool {
	v, ok := o[name]
	return ok && string(v) != "null"
}

// require checks that each name is present and not null.
func (o object) require(names ...string) error {
	for _, n := range names {
		if !o.has(n) {
			return fss(fgs.Invalid, requiredCode[n], "%s is required", n)
		}
	}
	return nil
}

// get decodes field name into dst when present; null sets dst's zero
// value. A value of the wrong type is FSS.0400 naming the field.
func (o object) get(name string, dst any) error {
	v, ok := o[name]
	if !ok {
		return nil
	}
	if string(v) == "null" {
		rv := reflect.ValueOf(dst).Elem()
		rv.Set(reflect.Zero(rv.Type()))
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			field := name
			if typ.Field != "" {
				field += "." + typ.Field
			}
			return fss(fgs.Invalid, "FSS.0400", "field %s must be %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return fss(fgs.Invalid, "FSS.0400", "field %s: %v", name, err)
	}
	return nil
}

// mergeConfig decodes into dst every Config field o has. Absent fields
// keep dst's values; a field sent as null is cleared. It returns the
// fields present.
func mergeConfig(dst *fgs.Config, o object) (map[string]bool, error) {
	present := make(map[string]bool, len(o))
	for k := range o {
		present[k] = true
	}
	dv := reflect.ValueOf(dst).Elem()
	t := dv.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if err := o.get(name, dv.Field(i).Addr().Interface()); err != nil {
			return nil, err
		}
	}
	return present, nil
}

// code decodes the code part of CreateFunction and UpdateFunctionCode.
func (o object) code() (functions.Code, error) {
	var (
		c        functions.Code
		codeType *string
		file     *struct {
			File string `json:"file"`
		}
	)
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"depend_list", &c.DependList},
		{"code_type", &codeType},
		{"code_url", &c.URL},
		{"code_filename", &c.Filename},
		{"func_code", &file},
		{"depend_version_list", &c.DependVersionList},
		{"code_encrypt_kms_key_id", &c.EncryptKMSKeyID},
	} {
		if err := o.get(f.name, f.dst); err != nil {
			return c, err
		}
	}
	if codeType != nil {
		c.Type = *codeType
	}
	if file != nil {
		c.File = file.File
	}
	return c, nil
}
