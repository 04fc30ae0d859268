package enrich

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/client_golang/prometheus"

	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
)

// rule is a compiled `enrich.rules` entry.
type rule struct {
	name    string
	program *vm.Program // nil: always applies
	sets    []assignment
	drop    bool
	// The rule's metric series, resolved once.
	matched, dropped, failed prometheus.Counter
}

// assignment is one `set:` entry, resolved to the column and its value.
type assignment struct {
	column *record.Column
	str    string
	num    uint64
}

func (a assignment) apply(f *record.Flow) {
	if a.column.Str != nil {
		*a.column.Str(f) = a.str
		return
	}
	a.column.SetUint(f, a.num)
}

// ruleFunctions are the helpers rules may call besides the columns.
var ruleFunctions = []expr.Option{
	// inNet(SrcAddr, "10.0.0.0/8"): the address is inside the prefix.
	expr.Function("inNet", func(params ...any) (any, error) {
		a, _ := params[0].(record.Addr)
		p, _ := params[1].(string)
		prefix, err := cachedPrefix(p)
		if err != nil {
			return false, err
		}
		return prefix.Contains(a.Netip()), nil
	}, new(func(record.Addr, string) bool)),
	// addr(SrcAddr): the address as text, IPv4 unmapped.
	expr.Function("addr", func(params ...any) (any, error) {
		a, _ := params[0].(record.Addr)
		return a.String(), nil
	}, new(func(record.Addr) string)),
	// hasFeed(SrcThreatFeeds, "feodo"): the feed lists the address.
	expr.Function("hasFeed", func(params ...any) (any, error) {
		set, _ := params[0].(record.FeedSet)
		name, _ := params[1].(string)
		found := false
		set.Each(func(n string) { found = found || n == name })
		return found, nil
	}, new(func(record.FeedSet, string) bool)),
}

// prefixes caches the prefixes rules name, parsed once: rules give them as
// constants, evaluated on every record.
var prefixes sync.Map // string → netip.Prefix

func cachedPrefix(s string) (netip.Prefix, error) {
	if p, ok := prefixes.Load(s); ok {
		return p.(netip.Prefix), nil
	}
	p, err := parsePrefix(s)
	if err != nil {
		return p, err
	}
	prefixes.Store(s, p)
	return p, nil
}

// prefixChecker refuses, at compile time, an inNet whose constant prefix
// does not parse: it would fail on every record.
type prefixChecker struct{ err error }

func (v *prefixChecker) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || len(call.Arguments) != 2 {
		return
	}
	if callee, ok := call.Callee.(*ast.IdentifierNode); !ok || callee.Value != "inNet" {
		return
	}
	if s, ok := call.Arguments[1].(*ast.StringNode); ok && v.err == nil {
		if _, err := parsePrefix(s.Value); err != nil {
			v.err = fmt.Errorf("inNet: %w", err)
		}
	}
}

// compileRule checks and compiles a rule against the record's columns.
func compileRule(c RuleConfig) (*rule, error) {
	r := &rule{name: c.Name, drop: c.Drop}
	if c.If != "" {
		check := &prefixChecker{}
		opts := append([]expr.Option{expr.Env(record.Flow{}), expr.AsBool(), expr.Patch(check)}, ruleFunctions...)
		program, err := expr.Compile(c.If, opts...)
		if err == nil && check.err != nil {
			err = check.err
		}
		if err != nil {
			// expr's message draws the expression under a caret on more
			// lines; a configuration error is one line.
			msg, _, _ := strings.Cut(err.Error(), "\n")
			return nil, fmt.Errorf("if: %s", msg)
		}
		r.program = program
	}
	keys := make([]string, 0, len(c.Set))
	for k := range c.Set {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable order, for errors and for overlapping sets
	for _, name := range keys {
		a, err := resolveAssignment(name, c.Set[name])
		if err != nil {
			return nil, fmt.Errorf("set.%s: %w", name, err)
		}
		r.sets = append(r.sets, a)
	}
	return r, nil
}

// enumValue finds one value of an Enum8 type.
var enumValue = regexp.MustCompile(`'([^']*)' = (\d+)`)

func resolveAssignment(name, value string) (assignment, error) {
	for i := range record.Columns {
		c := &record.Columns[i]
		if c.Name != name {
			continue
		}
		switch c.Kind {
		case record.KindString:
			if len(value) > recordpb.MaxStringLen || !utf8.ValidString(value) {
				return assignment{}, fmt.Errorf("want UTF-8 of at most %d bytes", recordpb.MaxStringLen)
			}
			return assignment{column: c, str: value}, nil
		case record.KindEnum8:
			for _, m := range enumValue.FindAllStringSubmatch(c.Type, -1) {
				if m[1] == value {
					v, _ := strconv.ParseUint(m[2], 10, 8)
					return assignment{column: c, num: v}, nil
				}
			}
			return assignment{}, fmt.Errorf("%q is not a value of %s", value, c.Type)
		case record.KindUInt8, record.KindUInt16, record.KindUInt32, record.KindUInt64:
			bits := map[record.Kind]int{record.KindUInt8: 8, record.KindUInt16: 16, record.KindUInt32: 32, record.KindUInt64: 64}[c.Kind]
			v, err := strconv.ParseUint(value, 10, bits)
			if err != nil {
				return assignment{}, fmt.Errorf("want a %d-bit unsigned number: %w", bits, err)
			}
			return assignment{column: c, num: v}, nil
		}
		return assignment{}, errors.New("this column cannot be set by a rule")
	}
	return assignment{}, errors.New("no such column")
}

// matches runs the rule's condition on a record.
func (r *rule) matches(f *record.Flow) (bool, error) {
	if r.program == nil {
		return true, nil
	}
	out, err := expr.Run(r.program, f)
	if err != nil {
		return false, err
	}
	ok, _ := out.(bool)
	return ok, nil
}
