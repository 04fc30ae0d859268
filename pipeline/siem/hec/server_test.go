package hec

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

// splunk is an HTTP Event Collector as Splunk documents it: the event
// endpoint (token, channel, gzip, concatenated JSON events, an ackId per
// request), the ack endpoint (ackIds per channel, each true once indexed
// and then forgotten), the health endpoint, and busy (503, code 9) and
// throttled (429) answers.
type splunk struct {
	t     *testing.T
	token string
	srv   *httptest.Server

	mu sync.Mutex
	// busy decides, per event request (numbered from 1), a refusal:
	// 503 or 429, 0 to accept.
	busy func(n int) int
	// lose decides, per accepted request (numbered from 1), that an
	// indexer loses it: never indexed, never acknowledged.
	lose     func(n int) bool
	ackDelay time.Duration
	noAck    bool
	// sticky makes the HEC a load balancer's pool: the event endpoint
	// sets a cookie, and an ack poll without it reaches another indexer,
	// which knows none of the ackIds.
	sticky  bool
	healthy bool
	// onAccept, if set, runs after a request is accepted.
	onAccept func()

	requests, accepted, gzipped int
	status                      map[int]int // refusals by status
	nextAck                     map[string]int64
	pending                     map[string]map[int64]pendingAck
	indexed                     []hecEvent
}

type pendingAck struct {
	events  []hecEvent
	readyAt time.Time
	lost    bool
}

type hecEvent struct {
	Time       json.Number       `json:"time"`
	Host       string            `json:"host"`
	Source     string            `json:"source"`
	Sourcetype string            `json:"sourcetype"`
	Index      string            `json:"index"`
	Fields     map[string]string `json:"fields"`
	Event      json.RawMessage   `json:"event"`
	channel    string
}

func newSplunk(t *testing.T, token string) *splunk {
	s := &splunk{t: t, token: token, healthy: true, busy: func(int) int { return 0 }, lose: func(int) bool { return false },
		status: map[int]int{}, nextAck: map[string]int64{}, pending: map[string]map[int64]pendingAck{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/collector/event", s.event)
	mux.HandleFunc("POST /services/collector/ack", s.ack)
	mux.HandleFunc("GET /services/collector/health", s.health)
	s.srv = httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(s.srv.Close)
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
func (s *splunk) authorize(w http.ResponseWriter, r *http.Request) (channel string, ok bool) {
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
	if channel == "" && !s.noAck {
		reply(w, 400, answer{Text: "Data channel is missing", Code: 10})
		return "", false
	}
	return channel, true
}

func (s *splunk) event(w http.ResponseWriter, r *http.Request) {
	channel, ok := s.authorize(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	switch s.busy(s.requests) {
	case 503:
		s.status[503]++
		reply(w, 503, answer{Text: "Server is busy", Code: 9})
		return
	case 429:
		s.status[429]++
		w.Header().Set("Retry-After", "1")
		reply(w, 429, answer{Text: "Too many requests", Code: 9})
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			reply(w, 400, answer{Text: "Invalid data format", Code: 6})
			return
		}
		s.gzipped++
		body = zr
	}
	var events []hecEvent
	dec := json.NewDecoder(body)
	dec.UseNumber()
	for {
		var ev hecEvent
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
		ev.channel = channel
		events = append(events, ev)
	}
	if len(events) == 0 {
		reply(w, 400, answer{Text: "No data", Code: 5})
		return
	}
	s.accepted++
	lost := s.lose(s.accepted)
	if s.noAck {
		if !lost {
			s.indexed = append(s.indexed, events...)
		}
		reply(w, 200, answer{Text: "Success", Code: 0})
		return
	}
	id := s.nextAck[channel]
	s.nextAck[channel]++
	if s.pending[channel] == nil {
		s.pending[channel] = map[int64]pendingAck{}
	}
	s.pending[channel][id] = pendingAck{events: events, readyAt: time.Now().Add(s.ackDelay), lost: lost}
	if s.sticky {
		http.SetCookie(w, &http.Cookie{Name: "AWSALB", Value: "indexer-1", Path: "/"})
	}
	reply(w, 200, answer{Text: "Success", Code: 0, AckID: &id})
	if s.onAccept != nil {
		s.onAccept()
	}
}

// ack answers, for each ackId asked, whether its events are indexed: the
// events are indexed once ackDelay passed (never for a lost request), and
// an ackId answered true is forgotten, as Splunk does.
func (s *splunk) ack(w http.ResponseWriter, r *http.Request) {
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
	if c, err := r.Cookie("AWSALB"); s.sticky && (err != nil || c.Value != "indexer-1") {
		for _, id := range req.Acks {
			acks[strconv.FormatInt(id, 10)] = false
		}
		reply(w, 200, map[string]any{"acks": acks})
		return
	}
	now := time.Now()
	for _, id := range req.Acks {
		p, ok := s.pending[channel][id]
		done := ok && !p.lost && now.After(p.readyAt)
		if done {
			s.indexed = append(s.indexed, p.events...)
			delete(s.pending[channel], id)
		}
		acks[strconv.FormatInt(id, 10)] = done
	}
	reply(w, 200, map[string]any{"acks": acks})
}

func (s *splunk) health(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.healthy {
		reply(w, 503, answer{Text: "HEC is unhealthy, queues are full", Code: 18})
		return
	}
	reply(w, 200, answer{Text: "HEC is healthy", Code: 17})
}

// ids counts the indexed events by sluice_id.
func (s *splunk) ids() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[string]int{}
	for _, ev := range s.indexed {
		ids[ev.Fields["sluice_id"]]++
	}
	return ids
}

func (s *splunk) set(f func(s *splunk)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *splunk) find(id string) (hecEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.indexed {
		if ev.Fields["sluice_id"] == id {
			return ev, true
		}
	}
	return hecEvent{}, false
}
