package ginsessions

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// typesValue is the session value that names the Go types of the values
// this package stored, by name: gin-contrib's untyped Get must give an int
// back as an int, which JSON alone cannot (it gives float64). This is the
// one place type names are kept: ginauth's typed session.Get needs none.
const typesValue = "ginsessions.types"

// rawJSON is a value's JSON as the session keeps it.
type rawJSON = json.RawMessage

// encode returns v's JSON and the name of its type when JSON alone would
// not give v back. It fails with sessionstore.ErrEncode for a value that
// does not marshal, or whose type is neither native to JSON nor registered:
// such a value would not come back as what was stored, and a silent change
// of type is worse than an error at Save.
func encode(v any) (rawJSON, string, error) {
	typ := ""
	if v != nil {
		t := reflect.TypeOf(v)
		if !nativeType(t) {
			name, ok := registry.name(t)
			if !ok {
				return nil, "", fmt.Errorf("%w: type %s is not registered; call ginsessions.Register(%s{}) at start-up", sessionstore.ErrEncode, t, t)
			}
			typ = name
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %T: %w", sessionstore.ErrEncode, v, err)
	}
	return b, typ, nil
}

// decode returns the value with its Go type when typ names a registered
// type, and as JSON decodes it (float64, string, bool, []any,
// map[string]any, nil) otherwise.
func decode(raw rawJSON, typ string) (any, error) {
	if t, ok := registry.lookup(typ); ok {
		p := reflect.New(t)
		if err := json.Unmarshal(raw, p.Interface()); err != nil {
			return nil, fmt.Errorf("value of type %s: %w", typ, err)
		}
		return p.Elem().Interface(), nil
	}
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return nil, err
	}
	return x, nil
}

// Register records the type of x so that a value of that type stored
// through gin-contrib/sessions' untyped Set comes back from Get with its Go
// type, the way gob.Register does for cookie stores: values are stored as
// JSON. Strings, bools, float64, []any, map[string]any, every number kind,
// time.Time, time.Duration, []byte, and slices and maps of strings,
// numbers and bools need no registration; Save refuses a value of any
// other type that is not registered. Registering a type twice is harmless.
func Register(x any) {
	if x == nil {
		return
	}
	if t := reflect.TypeOf(x); !nativeType(t) {
		registry.add(t)
	}
}

// nativeType reports whether JSON's own decoding into `any` gives a value
// of type t back.
func nativeType(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[string](), reflect.TypeFor[bool](), reflect.TypeFor[float64](),
		reflect.TypeFor[[]any](), reflect.TypeFor[map[string]any]():
		return true
	}
	return false
}

var registry = func() *types {
	r := &types{byName: map[string]reflect.Type{}, byType: map[reflect.Type]string{}}
	for _, x := range []any{
		int(0), int8(0), int16(0), int32(0), int64(0),
		uint(0), uint8(0), uint16(0), uint32(0), uint64(0), float32(0),
		time.Time{}, time.Duration(0), []byte(nil),
		[]string(nil), []int(nil), []int64(nil), []float64(nil), []bool(nil),
		map[string]string(nil), map[string]int(nil), map[string]int64(nil),
		map[string]float64(nil), map[string]bool(nil), map[string][]string(nil),
		[]map[string]any(nil), []map[string]string(nil),
	} {
		r.add(reflect.TypeOf(x))
	}
	return r
}()

// types is the registry of type names.
type types struct {
	mu     sync.RWMutex
	byName map[string]reflect.Type
	byType map[reflect.Type]string
}

func (r *types) add(t reflect.Type) {
	name := t.String()
	if t.Name() != "" && t.PkgPath() != "" {
		name = t.PkgPath() + "." + t.Name()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byType[t]; ok {
		return
	}
	r.byType[t] = name
	if _, taken := r.byName[name]; !taken {
		r.byName[name] = t
	}
}

func (r *types) name(t reflect.Type) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	name, ok := r.byType[t]
	return name, ok
}

func (r *types) lookup(name string) (reflect.Type, bool) {
	if name == "" {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.byName[name]
	return t, ok
}
