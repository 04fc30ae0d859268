package schema

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"sluice/pipeline/record"
)

// interface_counters has one column per field of record.Counter, named as
// the field's JSON name (counters travel through Kafka as JSON with the
// column names), in the struct's order.
func TestCountersDeclareEveryField(t *testing.T) {
	typ := reflect.TypeFor[record.Counter]()
	var fields []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	if got := Counters.ColumnNames(); !slices.Equal(got, fields) {
		t.Errorf("interface_counters columns:\n%v\nrecord.Counter fields:\n%v", got, fields)
	}
}

// Each column of interface_counters reads the field it names: setting one
// field of a zero sample changes that column's value and no other.
func TestCountersAccessorsReadTheirField(t *testing.T) {
	byName := map[string]int{}
	for i, c := range Counters.Columns {
		byName[c.Name] = i
	}
	typ := reflect.TypeFor[record.Counter]()
	for i := range typ.NumField() {
		var c record.Counter
		f := reflect.ValueOf(&c).Elem().Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Array: // the address
			f.Index(15).SetUint(1)
		case reflect.Int64:
			f.SetInt(1)
		default:
			f.SetUint(1)
		}
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		for j, col := range Counters.Columns {
			var set bool
			if col.Addr != nil {
				set = *col.Addr(&c) != record.Addr{}
			} else {
				set = col.Uint(&c) != 0
			}
			if set != (j == byName[name]) {
				t.Errorf("field %s set: column %s reads %v", name, col.Name, set)
			}
		}
	}
}

// The declarations name their keys' columns.
func TestTablesOrderByTheirColumns(t *testing.T) {
	check := func(name string, cols []string, orderBy, version, ttl string) {
		t.Helper()
		for _, key := range strings.Split(strings.Trim(orderBy, "()"), ", ") {
			if !slices.Contains(cols, key) {
				t.Errorf("%s: ORDER BY %s is not a column", name, key)
			}
		}
		for _, c := range []string{version, ttl} {
			if c != "" && !slices.Contains(cols, c) {
				t.Errorf("%s: %s is not a column", name, c)
			}
		}
	}
	check(Counters.Name, Counters.ColumnNames(), Counters.OrderBy, Counters.Version, Counters.TTLColumn)
	check(Alerts.Name, Alerts.ColumnNames(), Alerts.OrderBy, Alerts.Version, Alerts.TTLColumn)
	check(Exporters.Name, Exporters.ColumnNames(), Exporters.OrderBy, Exporters.Version, Exporters.TTLColumn)
}
