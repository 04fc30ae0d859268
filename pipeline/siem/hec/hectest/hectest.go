// Package hectest is a Splunk HTTP Event Collector for tests, as Splunk
// documents it: the event endpoint (token, channel, gzip, concatenated
// JSON events, an ackId per request), the ack endpoint (ackIds per
// channel, each true once indexed and then forgotten), the health
// endpoint, and Busy (503, code 9) and throttled (429) answers. It serves
// on 127.0.0.1. Test support only.
package hectest

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is one HEC. Its exported settings and counters are read and
// changed under Set once it serves.
type Server struct {
	token string
	// Srv serves the endpoints under Srv.URL.
	Srv *httptest.Server

	mu sync.Mutex
	// Busy decides, per event request (numbered from 1), a refusal:
	// 503 or 429, 0 to accept.
	Busy func(n int) int
	// Lose decides, per accepted request (numbered from 1), that an
	// indexer loses it: never indexed, never acknowledged.
	Lose func(n int) bool
	// AckDelay is how long after its request an event is indexed (and
	// its ackId answers true).
	AckDelay time.Duration
	// NoAck is a token without indexer acknowledgement: no channel
	// needed, no ackId returned, events indexed at once.
	NoAck bool
	// Sticky makes the HEC a load balancer's pool: the event endpoint
	// sets a cookie, and an ack poll without it reaches another indexer,
	// which knows none of the ackIds.
	Sticky bool
	// Healthy is the health endpoint's answer (false: 503, code 18).
	Healthy bool
	// OnAccept, if set, runs after a request is accepted.
	OnAccept func()

	// Requests counts event requests; Accepted those taken; Gzipped the
	// gzip-compressed ones of those; Status the refusals by status.
	Requests, Accepted, Gzipped int
	Status                      map[int]int
	nextAck                     map[string]int64
	// Pending holds, by channel and ackId, the requests taken and not yet
	// acknowledged; Indexed the events indexed, in order.
	Pending map[string]map[int64]PendingAck
	Indexed []Event
}

// PendingAck is one accepted request waiting for its acknowledgement.
type PendingAck struct {
	Events  []Event
	readyAt time.Time
	lost    bool
}

// Event is one indexed event, with the channel it came on.
type Event struct {
	Time       json.Number       `json:"time"`
	Host       string            `json:"host"`
	Source     string            `json:"source"`
	Sourcetype string            `json:"sourcetype"`
	Index      string            `json:"index"`
	Fields     map[string]string `json:"fields"`
	Event      json.RawMessage   `json:"event"`
	Channel    string            `json:"-"`
}

// New starts a HEC on 127.0.0.1 that takes token, closed at the test's
// end.
func New(t testing.TB, token string) *Server {
	s := &Server{token: token, Healthy: true, Busy: func(int) int { return 0 }, Lose: func(int) bool { return false },
		Status: map[int]int{}, nextAck: map[string]int64{}, Pending: map[string]map[int64]PendingAck{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/collector/event", s.event)
	mux.HandleFunc("POST /services/collector/ack", s.ack)
	mux.HandleFunc("GET /services/collector/health", s.health)
	s.Srv = httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(s.Srv.Close)
	return s
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

type answer struct {
	Text  string `json:"text"`
	Code  int    `json:"code"`
	AckID *int64 `json:"ackId,omitempty"`
}

// authorize checks the token and the channel, as HEC does with acks on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (channel string, ok bool) {
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		reply(w, 401, answer{Text: "Token is required", Code: 2})
		return "", false
	case auth != "Splunk "+s.token:
		reply(w, 403, answer{Text: "Invalid token", Code: 4})
		return "", false
	}
	channel = r.Header.Get("X-Splunk-Request-Channel")
	if channel == "" && !s.NoAck {
		reply(w, 400, answer{Text: "Data channel is missing", Code: 10})
		return "", false
	}
	return channel, true
}

func (s *Server) event(w http.ResponseWriter, r *http.Request) {
	channel, ok := s.authorize(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Requests++
	switch s.Busy(s.Requests) {
	case 503:
		s.Status[503]++
		reply(w, 503, answer{Text: "Server is Busy", Code: 9})
		return
	case 429:
		s.Status[429]++
		w.Header().Set("Retry-After", "1")
		reply(w, 429, answer{Text: "Too many Requests", Code: 9})
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			reply(w, 400, answer{Text: "Invalid data format", Code: 6})
			return
		}
		s.Gzipped++
		body = zr
	}
	var events []Event
	dec := json.NewDecoder(body)
	dec.UseNumber()
	for {
		var ev Event
		if err := dec.Decode(&ev); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			reply(w, 400, answer{Text: "Invalid data format", Code: 6})
			return
		}
		if len(ev.Event) == 0 {
			reply(w, 400, answer{Text: "Event field is required", Code: 12})
			return
		}
		if _, err := ev.Time.Float64(); err != nil {
			reply(w, 400, answer{Text: "Invalid data format", Code: 6})
			return
		}
		ev.Channel = channel
		events = append(events, ev)
	}
	if len(events) == 0 {
		reply(w, 400, answer{Text: "No data", Code: 5})
		return
	}
	s.Accepted++
	lost := s.Lose(s.Accepted)
	if s.NoAck {
		if !lost {
			s.Indexed = append(s.Indexed, events...)
		}
		reply(w, 200, answer{Text: "Success", Code: 0})
		return
	}
	id := s.nextAck[channel]
	s.nextAck[channel]++
	if s.Pending[channel] == nil {
		s.Pending[channel] = map[int64]PendingAck{}
	}
	s.Pending[channel][id] = PendingAck{Events: events, readyAt: time.Now().Add(s.AckDelay), lost: lost}
	if s.Sticky {
		http.SetCookie(w, &http.Cookie{Name: "AWSALB", Value: "indexer-1", Path: "/"})
	}
	reply(w, 200, answer{Text: "Success", Code: 0, AckID: &id})
	if s.OnAccept != nil {
		s.OnAccept()
	}
}

// ack answers, for each ackId asked, whether its events are indexed: the
// events are indexed once AckDelay passed (never for a lost request), and
// an ackId answered true is forgotten, as Splunk does.
func (s *Server) ack(w http.ResponseWriter, r *http.Request) {
	channel, ok := s.authorize(w, r)
	if !ok {
		return
	}
	var req struct{ Acks []int64 }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		reply(w, 400, answer{Text: "Invalid data format", Code: 6})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	acks := map[string]bool{}
	if c, err := r.Cookie("AWSALB"); s.Sticky && (err != nil || c.Value != "indexer-1") {
		for _, id := range req.Acks {
			acks[strconv.FormatInt(id, 10)] = false
		}
		reply(w, 200, map[string]any{"acks": acks})
		return
	}
	now := time.Now()
	for _, id := range req.Acks {
		p, ok := s.Pending[channel][id]
		done := ok && !p.lost && now.After(p.readyAt)
		if done {
			s.Indexed = append(s.Indexed, p.Events...)
			delete(s.Pending[channel], id)
		}
		acks[strconv.FormatInt(id, 10)] = done
	}
	reply(w, 200, map[string]any{"acks": acks})
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.Healthy {
		reply(w, 503, answer{Text: "HEC is unhealthy, queues are full", Code: 18})
		return
	}
	reply(w, 200, answer{Text: "HEC is Healthy", Code: 17})
}

// IDs counts the indexed events by sluice_id.
func (s *Server) IDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[string]int{}
	for _, ev := range s.Indexed {
		ids[ev.Fields["sluice_id"]]++
	}
	return ids
}

// Set runs f with the server locked: the way to read or change its
// exported fields while it serves.
func (s *Server) Set(f func(s *Server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// Find returns the first indexed event whose sluice_id is id.
func (s *Server) Find(id string) (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.Indexed {
		if ev.Fields["sluice_id"] == id {
			return ev, true
		}
	}
	return Event{}, false
}

// Events returns a copy of the indexed events.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.Indexed...)
}
