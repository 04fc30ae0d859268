package clickhouse

import "errors"

// CodeTimeoutExceeded is ClickHouse's TIMEOUT_EXCEEDED: a statement
// stopped at its max_execution_time.
const CodeTimeoutExceeded = 159

// ExceptionCode is the ClickHouse error code err carries, from the embedded
// engine or a server, 0 when it carries none (a canceled context, a refused
// connection). Callers tell errors apart by it rather than by their text.
func ExceptionCode(err error) int {
	var e interface{ ExceptionCode() int }
	if errors.As(err, &e) {
		return e.ExceptionCode()
	}
	return 0
}
