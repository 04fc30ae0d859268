package record

import (
	"reflect"
	"testing"
	"unsafe"
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
		set := map[string]bool{"Uint": c.Uint != nil, "SetUint": c.SetUint != nil, "Addr": c.Addr != nil, "Str": c.Str != nil, "Hash": c.Hash != nil}
		want := map[Kind][]string{KindIPv6: {"Addr"}, KindString: {"Str"}, KindCommunityID: {"Hash"}}[c.Kind]
		if want == nil {
			want = []string{"Uint", "SetUint"}
		}
		for _, w := range want {
			if !set[w] {
				t.Errorf("column %s: kind %d needs accessor %s", c.Name, c.Kind, w)
			}
			delete(set, w)
		}
		for name, isSet := range set {
			if isSet {
				t.Errorf("column %s: kind %d must not set accessor %s", c.Name, c.Kind, name)
			}
		}
		if (c.Kind == KindEnum8) != (c.Enum != "") {
			t.Errorf("column %s: Enum %q set for kind %d", c.Name, c.Enum, c.Kind)
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
		switch c.Kind {
		case KindString:
			*c.Str(&f) = c.Name
			if v := reflect.ValueOf(f).FieldByName(c.Name).String(); v != c.Name {
				t.Errorf("column %s: Str accessor writes another field", c.Name)
			}
			continue
		case KindCommunityID:
			c.Hash(&f)[19] = byte(i + 1)
			if v := reflect.ValueOf(f).FieldByName(c.Name).Interface().(CommunityID); v[19] != byte(i+1) {
				t.Errorf("column %s: Hash accessor writes another field", c.Name)
			}
			continue
		}
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

func TestEnumTypesFollowStringMethods(t *testing.T) {
	if want := "Enum8('undefined' = 0, 'external' = 1, 'internal' = 2)"; boundaryType != want {
		t.Errorf("boundary type %s, want %s", boundaryType, want)
	}
	if want := "Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4)"; trafficDirectionType != want {
		t.Errorf("traffic direction type %s, want %s", trafficDirectionType, want)
	}
}

func TestFeedRegistry(t *testing.T) {
	a, ok := RegisterFeed("test-feed-a")
	if !ok {
		t.Fatal("register a")
	}
	b, _ := FeedBit([]byte("test-feed-b"))
	if again, _ := FeedBit([]byte("test-feed-a")); again != a || a == b {
		t.Fatalf("bits a=%b b=%b again=%b", a, b, again)
	}
	set := a | b
	if got := set.Names(nil); len(got) != 2 || got[0] != "test-feed-a" || got[1] != "test-feed-b" || set.Len() != 2 {
		t.Fatalf("names %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { FeedBit([]byte("test-feed-b")) }); n != 0 {
		t.Errorf("FeedBit of a known name allocates %v times", n)
	}
}

func TestCommunityIDText(t *testing.T) {
	var c CommunityID
	if c.String() != "" {
		t.Fatal("unset ID must be empty")
	}
	c[0] = 0xff
	if s := c.String(); len(s) != communityIDText || s[:3] != "1:/" {
		t.Fatalf("text %q", s)
	}
}

func TestIntern(t *testing.T) {
	a := Intern([]byte("site-a"))
	if b := Intern([]byte("site-a")); a != b || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatal("interned strings must share storage")
	}
	if n := testing.AllocsPerRun(100, func() { Intern([]byte("site-a")) }); n != 0 {
		t.Errorf("Intern of a known value allocates %v times", n)
	}
}
