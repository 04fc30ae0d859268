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

// serverInfo asks the engine once; nil until it answers.
func (s *Server) serverInfo(ctx context.Context) *serverInfo {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if s.info != nil {
		return s.info
	}
	res, err := s.engine.QueryReadOnlyRequest(ctx, embedded.ReadOnlyRequest{Query: "SELECT timezone()", Format: "TSVRaw"})
	if err != nil {
		return nil
	}
	s.info = &serverInfo{timezone: strings.TrimSpace(string(res.Data))}
	return s.info
}

// newQueryID is a random UUID, as ClickHouse gives a query without one.
func newQueryID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
