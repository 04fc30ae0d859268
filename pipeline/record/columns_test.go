package record

import (
	"reflect"
	"testing"
)

// Every Flow field must be a column exactly once, with a unique, positive
// protobuf number and the accessor its kind needs: the DDL, the writer and
// the wire schema are all derived from this table.
func TestColumnsCoverFlow(t *testing.T) {
	fields := map[string]bool{}
	typ := reflect.TypeFor[Flow]()
	for i := range typ.NumField() {
		fields[typ.Field(i).Name] = false
	}
	numbers := map[int32]string{}
	for _, r := range ReservedFields {
		numbers[int32(r)] = "reserved"
	}
	for _, c := range Columns {
		seen, ok := fields[c.Name]
		if !ok {
			t.Errorf("column %s has no Flow field", c.Name)
			continue
		}
		if seen {
			t.Errorf("column %s listed twice", c.Name)
		}
		fields[c.Name] = true
		if c.Field <= 0 {
			t.Errorf("column %s: protobuf field %d must be positive", c.Name, c.Field)
		}
		if prev, dup := numbers[int32(c.Field)]; dup {
			t.Errorf("column %s reuses protobuf field %d of %s", c.Name, c.Field, prev)
		}
		numbers[int32(c.Field)] = c.Name
		if c.Kind == KindIPv6 {
			if c.Addr == nil || c.Uint != nil || c.SetUint != nil {
				t.Errorf("column %s: IPv6 kind needs Addr only", c.Name)
			}
		} else if c.Uint == nil || c.SetUint == nil || c.Addr != nil {
			t.Errorf("column %s: kind %d needs Uint and SetUint only", c.Name, c.Kind)
		}
	}
	for name, seen := range fields {
		if !seen {
			t.Errorf("Flow field %s has no column", name)
		}
	}
}

// Accessors must read and write the field they are named for.
func TestColumnAccessorsRoundTrip(t *testing.T) {
	for i, c := range Columns {
		var f Flow
		if c.Kind == KindIPv6 {
			c.Addr(&f)[15] = byte(i + 1)
			v := reflect.ValueOf(f).FieldByName(c.Name).Interface().(Addr)
			if v[15] != byte(i+1) {
				t.Errorf("column %s: Addr accessor writes another field", c.Name)
			}
			continue
		}
		c.SetUint(&f, uint64(i+1))
		if got := c.Uint(&f); got != uint64(i+1) {
			t.Errorf("column %s: Uint()=%d after SetUint(%d)", c.Name, got, i+1)
		}
		v := reflect.ValueOf(f).FieldByName(c.Name)
		var raw uint64
		if v.CanInt() {
			raw = uint64(v.Int())
		} else {
			raw = v.Uint()
		}
		if raw != uint64(i+1) {
			t.Errorf("column %s: accessor writes another field", c.Name)
		}
	}
}

func TestBatchReuse(t *testing.T) {
	b := GetBatch()
	b.Next().Bytes = 10
	b.Next().Bytes = 20
	if b.Len() != 2 || b.Flows[1].Bytes != 20 {
		t.Fatalf("batch = %+v", b.Flows)
	}
	b.Flows = b.Flows[:0]
	if f := b.Next(); f.Bytes != 0 {
		t.Fatal("Next must return a zeroed record when reusing capacity")
	}
	b.Release()
}
