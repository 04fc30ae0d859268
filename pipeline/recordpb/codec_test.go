package recordpb

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"sluice/pipeline/record"
	"sluice/pipeline/recordpb/flowpb"
)

// randomSparseFlow is RandomFlow with each column zeroed with probability
// 1/3, so that omitted fields are exercised too.
func randomSparseFlow(r *rand.Rand) record.Flow {
	f := RandomFlow(r)
	for i := range codecs {
		if r.IntN(3) != 0 {
			continue
		}
		zeroColumn(&f, codecs[i].column)
	}
	return f
}

func zeroColumn(f *record.Flow, c *record.Column) {
	switch c.Kind {
	case record.KindIPv6:
		*c.Addr(f) = record.Addr{}
	case record.KindString:
		*c.Str(f) = ""
	case record.KindCommunityID:
		*c.Hash(f) = record.CommunityID{}
	default:
		c.SetUint(f, 0)
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	var got record.Flow
	for i := range 2000 {
		want := randomSparseFlow(r)
		if i == 0 {
			want = record.Flow{} // the empty record encodes to nothing
		}
		buf = AppendFlow(buf[:0], &want)
		if len(buf) != FlowSize(&want) {
			t.Fatalf("record %d: FlowSize %d, AppendFlow wrote %d bytes", i, FlowSize(&want), len(buf))
		}
		got = RandomFlow(r) // UnmarshalFlow must reset what was there
		if err := UnmarshalFlow(buf, &got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if got != want {
			t.Fatalf("record %d: round trip\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestBatchRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	want := make([]record.Flow, 300)
	var buf []byte
	for i := range want {
		want[i] = randomSparseFlow(r)
		buf = AppendBatchFlow(buf, &want[i])
	}
	got, err := UnmarshalBatch(buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("decoded %d flows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("flow %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if got, err := UnmarshalBatch(nil, got[:0]); err != nil || len(got) != 0 {
		t.Fatalf("empty batch: %d flows, %v", len(got), err)
	}
}

// toGenerated converts a record to the generated message through protobuf
// reflection and the column table, so the test also checks that every column
// exists in flowpb under its name, number and type.
func toGenerated(t *testing.T, f *record.Flow) *flowpb.Flow {
	t.Helper()
	m := &flowpb.Flow{}
	msg := m.ProtoReflect()
	for _, c := range record.Columns {
		fd := generatedField(t, msg.Descriptor(), &c)
		switch {
		case c.Kind == record.KindCommunityID:
			if h := c.Hash(f); !h.IsZero() {
				msg.Set(fd, protoreflect.ValueOfBytes(bytes.Clone(h[:])))
			}
			continue
		case c.Kind == record.KindFeedSet:
			list := msg.Mutable(fd).List()
			record.FeedSet(c.Uint(f)).Each(func(name string) { list.Append(protoreflect.ValueOfString(name)) })
			continue
		}
		switch fd.Kind() {
		case protoreflect.StringKind:
			if s := *c.Str(f); s != "" {
				msg.Set(fd, protoreflect.ValueOfString(s))
			}
		case protoreflect.BytesKind:
			if a := c.Addr(f); !a.IsZero() {
				msg.Set(fd, protoreflect.ValueOfBytes(bytes.Clone(a[:])))
			}
		case protoreflect.Uint32Kind:
			msg.Set(fd, protoreflect.ValueOfUint32(uint32(c.Uint(f))))
		case protoreflect.Uint64Kind:
			msg.Set(fd, protoreflect.ValueOfUint64(c.Uint(f)))
		case protoreflect.Int64Kind:
			msg.Set(fd, protoreflect.ValueOfInt64(int64(c.Uint(f))))
		case protoreflect.EnumKind:
			msg.Set(fd, protoreflect.ValueOfEnum(protoreflect.EnumNumber(c.Uint(f))))
		default:
			t.Fatalf("column %s: unexpected kind %v", c.Name, fd.Kind())
		}
	}
	return m
}

func fromGenerated(t *testing.T, m *flowpb.Flow) record.Flow {
	t.Helper()
	var f record.Flow
	msg := m.ProtoReflect()
	for _, c := range record.Columns {
		fd := generatedField(t, msg.Descriptor(), &c)
		v := msg.Get(fd)
		switch {
		case c.Kind == record.KindCommunityID:
			if b := v.Bytes(); len(b) > 0 {
				*c.Hash(&f) = record.CommunityID(b)
			}
			continue
		case c.Kind == record.KindFeedSet:
			var set record.FeedSet
			for i := range v.List().Len() {
				bit, ok := record.FeedBit([]byte(v.List().Get(i).String()))
				if !ok {
					t.Fatalf("feed %q not registered", v.List().Get(i).String())
				}
				set |= bit
			}
			c.SetUint(&f, uint64(set))
			continue
		}
		switch fd.Kind() {
		case protoreflect.StringKind:
			*c.Str(&f) = v.String()
		case protoreflect.BytesKind:
			if b := v.Bytes(); len(b) > 0 {
				*c.Addr(&f) = record.Addr(b)
			}
		case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
			c.SetUint(&f, v.Uint())
		case protoreflect.Int64Kind:
			c.SetUint(&f, uint64(v.Int()))
		case protoreflect.EnumKind:
			c.SetUint(&f, uint64(v.Enum()))
		}
	}
	return f
}

func generatedField(t *testing.T, md protoreflect.MessageDescriptor, c *record.Column) protoreflect.FieldDescriptor {
	t.Helper()
	fd := md.Fields().ByNumber(c.Field)
	if fd == nil || string(fd.Name()) != c.Name {
		t.Fatalf("column %s: flowpb has no field %d of that name (got %v); regenerate flowpb", c.Name, c.Field, fd)
	}
	return fd
}

// TestGeneratedCodeAgrees checks the hand-written codec against protoc-gen-go's
// code both ways, byte for byte: what a third party generates from flow.proto
// reads what sluice writes, and sluice reads what they write.
func TestGeneratedCodeAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	deterministic := proto.MarshalOptions{Deterministic: true}
	var batch []byte
	var wantBatch flowpb.FlowBatch
	var records []record.Flow
	for i := range 500 {
		f := randomSparseFlow(r)
		if i%2 == 0 {
			f = RandomFlow(r)
		}
		ours := AppendFlow(nil, &f)

		var decoded flowpb.Flow
		if err := proto.Unmarshal(ours, &decoded); err != nil {
			t.Fatalf("record %d: proto.Unmarshal of AppendFlow's bytes: %v", i, err)
		}
		if got := fromGenerated(t, &decoded); got != f {
			t.Fatalf("record %d: flowpb decoded\n got %+v\nwant %+v", i, got, f)
		}
		if n := len(decoded.ProtoReflect().GetUnknown()); n != 0 {
			t.Fatalf("record %d: flowpb saw %d bytes of unknown fields", i, n)
		}

		generated := toGenerated(t, &f)
		theirs, err := deterministic.Marshal(generated)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(theirs, ours) {
			t.Fatalf("record %d: encodings differ\nflowpb     %x\nAppendFlow %x", i, theirs, ours)
		}
		var got record.Flow
		if err := UnmarshalFlow(theirs, &got); err != nil {
			t.Fatalf("record %d: UnmarshalFlow of flowpb's bytes: %v", i, err)
		}
		if got != f {
			t.Fatalf("record %d: UnmarshalFlow of flowpb's bytes\n got %+v\nwant %+v", i, got, f)
		}

		batch = AppendBatchFlow(batch, &f)
		wantBatch.Flows = append(wantBatch.Flows, generated)
		records = append(records, f)
	}

	theirBatch, err := deterministic.Marshal(&wantBatch)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(theirBatch, batch) {
		t.Fatal("FlowBatch encodings differ between flowpb and AppendBatchFlow")
	}
	var decodedBatch flowpb.FlowBatch
	if err := proto.Unmarshal(batch, &decodedBatch); err != nil {
		t.Fatal(err)
	}
	if len(decodedBatch.Flows) != len(records) {
		t.Fatalf("flowpb decoded %d flows, want %d", len(decodedBatch.Flows), len(records))
	}
	got, err := UnmarshalBatch(theirBatch, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range records {
		if got[i] != records[i] {
			t.Fatalf("batch flow %d differs", i)
		}
	}
}

// TestUnknownFieldsSkipped is the forward-compatibility promise: a newer
// producer's extra fields, of any wire type, do not bother an older consumer.
func TestUnknownFieldsSkipped(t *testing.T) {
	f := RandomFlow(rand.New(rand.NewPCG(7, 8)))
	var b []byte
	b = protowire.AppendTag(b, 1000, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<40)
	b = AppendFlow(b, &f)
	b = protowire.AppendTag(b, 1001, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 1002, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 1003, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("a newer producer's field"))
	b = protowire.AppendTag(b, 1004, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	b = protowire.AppendTag(b, 1004, protowire.EndGroupType)
	var got record.Flow
	if err := UnmarshalFlow(b, &got); err != nil {
		t.Fatal(err)
	}
	if got != f {
		t.Fatalf("got %+v\nwant %+v", got, f)
	}

	var batch []byte
	batch = protowire.AppendTag(batch, 2, protowire.BytesType)
	batch = protowire.AppendBytes(batch, []byte("batch metadata"))
	batch = AppendBatchFlow(batch, &f)
	flows, err := UnmarshalBatch(batch, nil)
	if err != nil || len(flows) != 1 || flows[0] != f {
		t.Fatalf("batch with an unknown field: %d flows, %v", len(flows), err)
	}
}

func TestMalformed(t *testing.T) {
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	varint := func(v uint64) []byte { return protowire.AppendVarint(nil, v) }
	cases := []struct {
		name  string
		input []byte
		want  string
	}{
		{"truncated tag", []byte{0x80}, "field tag at offset 0"},
		{"field number zero", []byte{0x00}, "field tag at offset 0"},
		{"truncated varint", cat(tag(19, protowire.VarintType), []byte{0x80}), "field Proto (19) at offset 0"},
		{"value too large for UInt8", cat(tag(19, protowire.VarintType), varint(256)), "field Proto (19) at offset 0: value 256 larger than 255"},
		{"value too large for UInt16", cat(tag(17, protowire.VarintType), varint(1<<16)), "field SrcPort (17)"},
		{"value too large for UInt32", cat(tag(13, protowire.VarintType), varint(1<<32)), "field SrcAS (13)"},
		{"flow type too large", cat(tag(4, protowire.VarintType), varint(300)), "field FlowType (4)"},
		{"integer sent as bytes", cat(tag(19, protowire.BytesType), varint(1), []byte{6}), "wire type 2, want varint"},
		{"address sent as varint", cat(tag(9, protowire.VarintType), varint(1)), "field SrcAddr (9) at offset 0: wire type 0, want bytes"},
		{"IPv4 address of 4 bytes", cat(tag(9, protowire.BytesType), varint(4), []byte{10, 0, 0, 1}), "address of 4 bytes, want 16"},
		{"truncated address", cat(tag(9, protowire.BytesType), varint(16), make([]byte, 8)), "field SrcAddr (9)"},
		{"error after a good field", cat(tag(19, protowire.VarintType), varint(6), tag(10, protowire.Fixed32Type)), "field DstAddr (10) at offset 3"},
		{"truncated unknown field", cat(tag(500, protowire.BytesType), varint(10), []byte{1}), "unknown field 500 at offset 0"},
		{"unterminated group", tag(500, protowire.StartGroupType), "unknown field 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f record.Flow
			err := UnmarshalFlow(tc.input, &f)
			if err == nil {
				t.Fatalf("no error, decoded %+v", f)
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to wrap ErrMalformed and contain %q", err, tc.want)
			}
			// The same bytes inside a batch: the error says which flow.
			batch := AppendBatchFlow(nil, &record.Flow{Proto: 6})
			batch = protowire.AppendTag(batch, batchFlowsField, protowire.BytesType)
			batch = protowire.AppendBytes(batch, tc.input)
			flows, err := UnmarshalBatch(batch, nil)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "batch flow 1 at offset 5") {
				t.Fatalf("batch error %q, want it to name flow 1", err)
			}
			if len(flows) != 1 || flows[0].Proto != 6 {
				t.Fatalf("batch returned %d flows before the bad one, want the 1 good one", len(flows))
			}
		})
	}

	t.Run("batch element not bytes", func(t *testing.T) {
		_, err := UnmarshalBatch(cat(tag(1, protowire.VarintType), varint(1)), nil)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "batch flow 0 at offset 0: wire type 0") {
			t.Fatalf("error %q", err)
		}
	})
	t.Run("every truncation of a batch", func(t *testing.T) {
		f := RandomFlow(rand.New(rand.NewPCG(9, 10)))
		batch := AppendBatchFlow(nil, &f)
		for n := 1; n < len(batch); n++ {
			if flows, err := UnmarshalBatch(batch[:n], nil); err == nil {
				t.Fatalf("batch cut to %d of %d bytes decoded to %d flows", n, len(batch), len(flows))
			}
		}
	})
}

// TestNoAllocations pins the hot path's budget: encoding into a reused buffer
// and decoding into a reused record or slice allocate nothing.
func TestNoAllocations(t *testing.T) {
	f := RandomFlow(rand.New(rand.NewPCG(11, 12)))
	buf := make([]byte, 0, 4096)
	var decoded record.Flow
	flows := make([]record.Flow, 0, 8)
	encoded := AppendFlow(nil, &f)
	batch := AppendBatchFlow(AppendBatchFlow(nil, &f), &f)
	checks := []struct {
		name string
		fn   func()
	}{
		{"AppendFlow", func() { buf = AppendFlow(buf[:0], &f) }},
		{"AppendBatchFlow", func() { buf = AppendBatchFlow(buf[:0], &f) }},
		{"UnmarshalFlow", func() {
			if err := UnmarshalFlow(encoded, &decoded); err != nil {
				panic(err)
			}
		}},
		{"UnmarshalBatch", func() {
			var err error
			if flows, err = UnmarshalBatch(batch, flows[:0]); err != nil {
				panic(err)
			}
		}},
	}
	for _, c := range checks {
		if n := testing.AllocsPerRun(100, c.fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", c.name, n)
		}
	}
}

// FuzzUnmarshalFlow checks that no input panics the decoder, and that what it
// accepts survives a round trip.
func FuzzUnmarshalFlow(f *testing.F) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 8 {
		fl := randomSparseFlow(r)
		f.Add(AppendFlow(nil, &fl))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl, again record.Flow
		if err := UnmarshalFlow(b, &fl); err != nil {
			return
		}
		if err := UnmarshalFlow(AppendFlow(nil, &fl), &again); err != nil || again != fl {
			t.Fatalf("accepted input does not round trip: %v", err)
		}
	})
}

func TestMaxFlowSize(t *testing.T) {
	var f record.Flow
	var allFeeds record.FeedSet
	for _, bit := range TestFeeds() {
		allFeeds |= bit
	}
	for i := range codecs {
		c := codecs[i].column
		switch c.Kind {
		case record.KindIPv6:
			*c.Addr(&f) = record.Addr{0: 0xff}
		case record.KindString:
			*c.Str(&f) = strings.Repeat("s", MaxStringLen+10) // cut to MaxStringLen
		case record.KindCommunityID:
			*c.Hash(&f) = record.CommunityID{0: 0xff}
		case record.KindFeedSet:
			c.SetUint(&f, uint64(allFeeds))
		default:
			c.SetUint(&f, codecs[i].max)
		}
	}
	if got := len(AppendFlow(nil, &f)); got != MaxFlowSize() {
		t.Errorf("largest record encodes to %d bytes, MaxFlowSize says %d", got, MaxFlowSize())
	}
	if got := len(AppendBatchFlow(nil, &f)); got > MaxFlowSize()+4 {
		t.Errorf("largest batch element is %d bytes, more than MaxFlowSize+4", got)
	}
}

// A string longer than MaxStringLen is cut at a character boundary, never
// in the middle of a UTF-8 sequence.
func TestLongStringCut(t *testing.T) {
	var f, got record.Flow
	f.ExporterName = strings.Repeat("é", MaxStringLen) // 2 bytes each
	if err := UnmarshalFlow(AppendFlow(nil, &f), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.ExporterName) != MaxStringLen-1 || got.ExporterName != f.ExporterName[:MaxStringLen-1] {
		t.Fatalf("cut to %d bytes: %q", len(got.ExporterName), got.ExporterName)
	}
}
