package chhttp

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"sluice/storage/embedded"
)

// serverInfo is what the response headers say of the engine.
type serverInfo struct {
	timezone string
}

// loadServerInfo asks the engine once, at Start, before any query: a
// request never calls the engine outside its turn. On failure the headers
// go without it.
func (s *Server) loadServerInfo(ctx context.Context) {
	res, err := s.engine.QueryReadOnlyRequest(ctx, embedded.ReadOnlyRequest{Query: "SELECT timezone()", Format: "TSVRaw"})
	if err != nil {
		s.r.Warn("ClickHouse HTTP interface: the engine's time zone", "err", err)
		return
	}
	tz := strings.TrimSpace(string(res.Data))
	if len(tz) > 64 || strings.ContainsFunc(tz, func(r rune) bool { return r <= ' ' || r > '~' }) {
		s.r.Warn("ClickHouse HTTP interface: the engine's time zone is not a name", "timezone", tz[:min(len(tz), 64)])
		return
	}
	s.info = &serverInfo{timezone: tz}
}

// newQueryID is a random UUID, as ClickHouse gives a query without one.
func newQueryID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
