package oauthvendor

import "reflect"

// overlay copies every field of src into dst where dst holds its zero
// value. Presets and global defaults are vendorConfig literals, so one
// generic rule resolves them instead of a hand-written line per field.
func overlay(dst, src *vendorConfig) {
	d := reflect.ValueOf(dst).Elem()
	s := reflect.ValueOf(src).Elem()
	for i := range d.NumField() {
		if d.Field(i).IsZero() && !s.Field(i).IsZero() {
			d.Field(i).Set(s.Field(i))
		}
	}
}
