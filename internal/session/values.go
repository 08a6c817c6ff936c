package session

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// EncodeValue encodes x for storage. It fails with sessionstore.ErrEncode if x does not
// marshal to JSON, or if its type is neither native to JSON nor registered:
// such a value would not come back as what was stored, and a silent change of
// type is worse than an error at Save.
func EncodeValue(x any) (sessionstore.Value, error) {
	name, err := typeName(x)
	if err != nil {
		return sessionstore.Value{}, err
	}
	return marshalValue(x, name)
}

// EncodeTyped encodes x, registering its type first, so Decode restores it in
// any process that has registered it too. The typed helpers of the auth
// package use it.
func EncodeTyped[T any](x T) (sessionstore.Value, error) {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Interface {
		return EncodeValue(x)
	}
	name := ""
	if !nativeType(t) {
		name = registerType(t)
	}
	return marshalValue(x, name)
}

func marshalValue(x any, typ string) (sessionstore.Value, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return sessionstore.Value{}, fmt.Errorf("%w: %T: %w", sessionstore.ErrEncode, x, err)
	}
	return sessionstore.Value{JSON: b, Type: typ}, nil
}

// Decode returns the value with its Go type when the type is registered, and
// as JSON decodes it (float64, string, bool, []any, map[string]any, nil)
// otherwise.
func Decode(v sessionstore.Value) (any, error) {
	if v.Type != "" {
		if t, ok := lookupType(v.Type); ok {
			p := reflect.New(t)
			if err := json.Unmarshal(v.JSON, p.Interface()); err != nil {
				return nil, sessionstore.Corrupt(fmt.Errorf("value of type %s: %w", v.Type, err))
			}
			return p.Elem().Interface(), nil
		}
	}
	var x any
	if err := json.Unmarshal(v.JSON, &x); err != nil {
		return nil, sessionstore.Corrupt(err)
	}
	return x, nil
}

// DecodeInto decodes the value into dst, which must be a non-nil pointer.
func DecodeInto(v sessionstore.Value, dst any) error {
	if err := json.Unmarshal(v.JSON, dst); err != nil {
		return fmt.Errorf("decoding %s into %T: %w", nonEmpty(v.Type, "value"), dst, err)
	}
	return nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Register records the type of x so that untyped reads (Decode, and the
// gin-contrib/sessions adapter) give values of that type back with their Go
// type, the way gob.Register does for cookie stores. Common types (every
// number kind, time.Time, time.Duration, []byte, and slices and maps of
// strings, numbers and bools) are registered already. Registering a type twice
// is harmless.
func Register(x any) {
	if x == nil {
		return
	}
	t := reflect.TypeOf(x)
	if !nativeType(t) {
		registerType(t)
	}
}

var registry struct {
	sync.RWMutex
	byName map[string]reflect.Type
	byType map[reflect.Type]string
}

func init() {
	registry.byName = make(map[string]reflect.Type)
	registry.byType = make(map[reflect.Type]string)
	for _, x := range []any{
		int(0), int8(0), int16(0), int32(0), int64(0),
		uint(0), uint8(0), uint16(0), uint32(0), uint64(0), float32(0),
		time.Time{}, time.Duration(0), []byte(nil),
		[]string(nil), []int(nil), []int64(nil), []float64(nil), []bool(nil),
		map[string]string(nil), map[string]int(nil), map[string]int64(nil),
		map[string]float64(nil), map[string]bool(nil), map[string][]string(nil),
		[]map[string]any(nil), []map[string]string(nil),
	} {
		Register(x)
	}
}

// nativeType reports whether JSON's own decoding into `any` gives a value of
// type t back.
func nativeType(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[string](), reflect.TypeFor[bool](), reflect.TypeFor[float64](),
		reflect.TypeFor[[]any](), reflect.TypeFor[map[string]any]():
		return true
	}
	return false
}

func typeName(x any) (string, error) {
	if x == nil {
		return "", nil
	}
	t := reflect.TypeOf(x)
	if nativeType(t) {
		return "", nil
	}
	registry.RLock()
	name, ok := registry.byType[t]
	registry.RUnlock()
	if !ok {
		return "", fmt.Errorf("%w: type %s is not registered; call ginsessions.Register(%s{}) at start-up", sessionstore.ErrEncode, t, t)
	}
	return name, nil
}

func registerType(t reflect.Type) string {
	registry.RLock()
	name, ok := registry.byType[t]
	registry.RUnlock()
	if ok {
		return name
	}
	name = t.String()
	if t.Name() != "" && t.PkgPath() != "" {
		name = t.PkgPath() + "." + t.Name()
	}
	registry.Lock()
	defer registry.Unlock()
	if prev, ok := registry.byType[t]; ok {
		return prev
	}
	registry.byType[t] = name
	if _, taken := registry.byName[name]; !taken {
		registry.byName[name] = t
	}
	return name
}

func lookupType(name string) (reflect.Type, bool) {
	registry.RLock()
	t, ok := registry.byName[name]
	registry.RUnlock()
	return t, ok
}
