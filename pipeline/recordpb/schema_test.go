package recordpb

import (
	"flag"
	"os"
	"testing"

	"sluice/pipeline/record"
)

var update = flag.Bool("update", false, "rewrite flow.proto from record.Columns")

// TestProtoSchemaGolden fails when the published flow.proto no longer matches
// record.Columns. After changing the columns, run go generate
// ./pipeline/recordpb, which rewrites it and regenerates flowpb.
func TestProtoSchemaGolden(t *testing.T) {
	want := ProtoSchema()
	if *update {
		if err := os.WriteFile("flow.proto", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("flow.proto")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("flow.proto differs from ProtoSchema(); run `go generate ./pipeline/recordpb` and commit the result\n--- want\n%s", want)
	}
}

// TestColumnFieldNumbers guards the published numbering: the codec and the
// .proto assume every column has its own number, none of them reserved.
func TestColumnFieldNumbers(t *testing.T) {
	seen := map[int]string{}
	for _, n := range record.ReservedFields {
		seen[int(n)] = "reserved"
	}
	for _, c := range record.Columns {
		if c.Field < 1 || c.Field > 536870911 || (c.Field >= 19000 && c.Field <= 19999) {
			t.Errorf("column %s: field number %d is not a valid protobuf field number", c.Name, c.Field)
		}
		if other, ok := seen[int(c.Field)]; ok {
			t.Errorf("column %s: field number %d already used by %s", c.Name, c.Field, other)
		}
		seen[int(c.Field)] = c.Name
	}
}
