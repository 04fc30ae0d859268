package clickhouse

import "strings"

// QuoteString returns s as a ClickHouse string literal. Backslashes and
// quotes are escaped, and NUL is written as \0 so that the statement survives
// being passed as a C string (chDB's API).
func QuoteString(s string) string {
	return quote(s, '\'')
}

// QuoteIdentifier returns name as a back-quoted ClickHouse identifier. A
// qualified name such as sluice.flows must be quoted part by part.
func QuoteIdentifier(name string) string {
	return quote(name, '`')
}

func quote(s string, q byte) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', q:
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(q)
	return b.String()
}
