// Package spool is a bounded on-disk FIFO of keyed messages: the collector's
// buffer for when Kafka cannot take its records. Entries are appended to
// segment files in the data directory and read back in order; a segment is
// deleted once every entry in it has been acknowledged. Past the configured
// size the policy drops the newest entries (refusing them) or the oldest
// segment, and counts what it dropped.
//
// Each entry has an identity that survives restarts and crashes: the
// spool's instance ID (a random ID kept in the directory's "id" file) and
// the entry's sequence number (Pos.Seq: its segment and its index, packed;
// segment numbers are never reused, so sequence numbers only grow, in the
// order entries were appended). Entry.ID spells both out. A consumer uses it
// to recognise an entry delivered twice.
//
// A segment file is a sequence of records:
//
//	uint32 payload length | uint32 CRC-32C of payload | uint32 flow records | payload
//	payload = uint16 key length | key | value
//
// all big-endian. Appends reach the file (the operating system) before
// Append returns, so a killed process loses nothing; a torn record at the end
// of a segment, from a crash in the middle of a write, is cut off at the next
// start.
//
// The cursor file, "<segment> <index>", says that every entry before that
// position was delivered. Once started, the spool rewrites it, durably,
// within CursorInterval of an acknowledgement that moved it (and at New and
// Stop); a reader that acknowledges with AckDurably instead, and never
// starts the spool, rewrites it at each acknowledgement: after a crash, only the entries acknowledged within that last
// interval, and those not acknowledged at all, are read again. The cursor
// stays true for good because segment numbers are never reused: a new
// segment is numbered past the cursor, every segment found on disk at New
// (even those New deletes as delivered), and the high-water mark: the
// "highwater" file records, durably, each segment number before a segment
// of that number is created, so that a segment file lost to a power loss
// (its directory entry never synced) does not free its number. (Were numbers reused, a
// cursor left by a clean stop would, after a later crash, mark the new
// segments' entries as delivered, and a consumer would take their IDs for
// ones it had already seen.) For the same reason, a directory that has an
// instance ID but no readable cursor gets a new instance ID: its numbering
// may start again. So does a copy of the directory (a cloned volume or VM,
// a restored backup): the "fingerprint" file beside the ID names the
// machine and the directory's inode it was made for.
package spool

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/atomicfile"
	"sluice/internal/reporter"
)

// ErrFull is returned by Append when the spool is full and the policy is
// drop-newest: the entry was dropped (and counted).
var ErrFull = errors.New("spool full")

// ErrClosed is returned after Stop.
var ErrClosed = errors.New("spool closed")

const (
	headerLen  = 12
	maxPayload = 64 << 20
	segSuffix  = ".seg"
	cursorFile = "cursor"
	idFile     = "id"
	// highFile holds the highest segment number ever used, recorded
	// durably before a segment of that number is created.
	highFile = "highwater"
	// fingerprintFile says where the instance ID was made (see fingerprint).
	fingerprintFile = "fingerprint"
)

// machineIDFiles are read, the first that exists, for the machine's
// identity (a variable for tests).
var machineIDFiles = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Pos locates an entry: its segment and its index in it.
type Pos struct {
	Segment uint64
	Index   int
}

// Seq is the entry's sequence number: segment and index packed in 64
// bits. Within a spool (one instance ID) it orders entries as they were
// appended and is never reused. Indexes stay below 2^32 (segments are at
// most 4 GiB).
func (p Pos) Seq() uint64 { return p.Segment<<32 | uint64(p.Index) }

// Entry is one spooled message.
type Entry struct {
	Key, Value []byte // slices of the buffer given to Next
	Records    int
	Pos        Pos
	// ID is stable across restarts: "<instance id>-<segment>-<index>".
	ID string
	// Buf is the buffer Key and Value are in, to pass to the next Next.
	Buf []byte
}

type segment struct {
	seq     uint64
	path    string
	size    int64
	entries int
	acked   []bool
	ackedN  int

	readIndex  int
	readOffset int64
	rf         *os.File // opened on first read
}

// Spool is safe for concurrent use: any number of writers, one reader.
type Spool struct {
	r   *reporter.Reporter
	cfg Config
	dir string
	id  string

	mu   sync.Mutex
	segs []*segment // oldest first; the last is written to
	read int        // index in segs of the segment being read
	// nextSeq numbers the next segment: past every number used before,
	// in this run or an earlier one.
	nextSeq uint64
	// highWater is the number highFile records.
	highWater uint64
	wf        *os.File
	w         *bufio.Writer
	total     int64
	notify    chan struct{}
	closed    bool
	// syncing is set by the first Sync; from then on roll lists the
	// segments it seals in sealed, for the next Sync to fsync.
	syncing bool
	sealed  []string

	// cursorAt is the position the cursor file last recorded.
	cursorAt Pos
	stopSync context.CancelFunc
	syncDone chan struct{}

	appended      prometheus.Counter
	appendedBytes prometheus.Counter
	dropped       *prometheus.CounterVec
	cursorErrors  prometheus.Counter
}

// Dependencies is what a Spool is handed.
type Dependencies struct {
	// Dir is the spool's data directory, created if missing.
	Dir string
	// Labels, when set, are constant labels of the spool's metrics, so
	// that several spools in one process (one per SIEM sink) are told
	// apart.
	Labels prometheus.Labels
}

// New opens or creates the spool in deps.Dir and recovers its segments,
// so that it takes and yields entries at once (the forwarder, and tests,
// use it before anything is started). It starts no goroutine: Start starts
// the one that keeps the cursor file current.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Spool, error) {
	r = r.Package()
	dir := deps.Dir
	if dir == "" {
		return nil, errors.New("spool: no directory")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{r: r, cfg: cfg, dir: dir, notify: make(chan struct{})}
	var seq uint64
	var index int
	cursor, cursorErr := os.ReadFile(filepath.Join(dir, cursorFile))
	if cursorErr == nil {
		_, cursorErr = fmt.Sscanf(string(cursor), "%d %d", &seq, &index)
	}
	var err error
	if s.id, err = spoolID(r, dir, cursorErr != nil); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if err := s.roll(); err != nil {
		s.closeFiles()
		return nil, err
	}
	// From here on the cursor names a live segment (or the one just
	// started), whatever the earlier run left in the file.
	if err := s.writeCursor(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("spool: cursor: %w", err)
	}
	if err := s.registerMetrics(deps.Labels); err != nil {
		s.closeFiles()
		return nil, err
	}
	if n, b := s.Pending(); n > 0 {
		r.Info("spool holds entries from an earlier run; delivering them first", "entries", n, "bytes", b, "dir", dir)
	}
	return s, nil
}

// spoolID reads the instance ID, or makes one: when there is none, when
// fresh is set (the cursor is missing or unreadable, so segment numbers may
// start again and an old ID with new numbers could name entries already
// delivered), or when the directory's fingerprint changed: a copy of the
// directory (a cloned volume or VM, a restored backup) would otherwise send
// its entries under the original's ID, and whichever of the two sends a
// sequence number second would have its entry taken for a copy.
func spoolID(r *reporter.Reporter, dir string, fresh bool) (string, error) {
	path := filepath.Join(dir, idFile)
	fp := fingerprint(dir)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		old, ferr := os.ReadFile(filepath.Join(dir, fingerprintFile))
		switch {
		case fresh:
			r.Warn("spool has an instance ID but no cursor; taking a new ID, so that entries are not mistaken for ones already delivered", "dir", dir)
		case ferr == nil && strings.TrimSpace(string(old)) != fp:
			r.Warn("spool directory was copied or moved to another machine (its fingerprint changed); taking a new instance ID, so that its entries are not mistaken for the original's",
				"dir", dir, "was", strings.TrimSpace(string(old)), "now", fp)
		default:
			if ferr != nil {
				// A directory of an earlier version: its ID is trusted
				// and the fingerprint recorded from now on.
				if err := atomicfile.WriteFile(filepath.Join(dir, fingerprintFile), []byte(fp+"\n"), 0o640); err != nil {
					return "", fmt.Errorf("spool: fingerprint: %w", err)
				}
			}
			return strings.TrimSpace(string(b)), nil
		}
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("spool: id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	// The ID first: a crash between the two leaves the new ID with the
	// old fingerprint, and the next start takes yet another ID (nothing
	// was sent under this one), never the old ID with the new fingerprint.
	if err := atomicfile.WriteFile(path, []byte(id+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("spool: id: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, fingerprintFile), []byte(fp+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("spool: fingerprint: %w", err)
	}
	return id, nil
}

// fingerprint names the machine (its machine-id) and the directory (its
// inode). Neither the host name nor the device number is in it: both
// change when a container or a volume moves, while the spool stays the
// same. A snapshot restored on the same machine and file system keeps both
// and is not detected.
func fingerprint(dir string) string {
	machine := "-"
	for _, path := range machineIDFiles {
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			machine = strings.TrimSpace(string(b))
			break
		}
	}
	inode := "-"
	if ino, ok := dirInode(dir); ok {
		inode = strconv.FormatUint(ino, 10)
	}
	return "machine=" + machine + " inode=" + inode
}

// recover scans the segments left by an earlier run.
func (s *Spool) recover() error {
	names, err := filepath.Glob(filepath.Join(s.dir, "*"+segSuffix))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var seqs []uint64
	for _, name := range names {
		seq, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), segSuffix), 10, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	cursorSeq, cursorIndex := s.readCursor()
	s.highWater = s.readHighWater()
	s.nextSeq = max(cursorSeq, s.highWater) + 1
	if len(seqs) > 0 {
		s.nextSeq = max(s.nextSeq, seqs[len(seqs)-1]+1)
	}
	for _, seq := range seqs {
		seg := &segment{seq: seq, path: s.segPath(seq)}
		if seq < cursorSeq {
			// Delivered before a clean stop; its deletion was cut short.
			os.Remove(seg.path)
			continue
		}
		skip := 0
		if seq == cursorSeq {
			skip = cursorIndex
		}
		if err := s.scan(seg, skip); err != nil {
			return err
		}
		if seg.entries == 0 || seg.readIndex == seg.entries {
			os.Remove(seg.path)
			continue
		}
		s.segs = append(s.segs, seg)
		s.total += seg.size
	}
	return nil
}

// readHighWater reads highFile; a directory of an earlier version has none
// (its numbering then rests on the cursor and the segments, as it did).
func (s *Spool) readHighWater() uint64 {
	b, err := os.ReadFile(filepath.Join(s.dir, highFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.r.Warn("spool high-water mark unreadable, ignored", "error", err)
		}
		return 0
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		s.r.Warn("spool high-water mark unreadable, ignored", "error", err)
		return 0
	}
	return v
}

func (s *Spool) readCursor() (uint64, int) {
	b, err := os.ReadFile(filepath.Join(s.dir, cursorFile))
	if err != nil {
		return 0, 0
	}
	var seq uint64
	var index int
	if _, err := fmt.Sscanf(string(b), "%d %d", &seq, &index); err != nil {
		s.r.Warn("spool cursor unreadable, ignored", "error", err)
		return 0, 0
	}
	s.cursorAt = Pos{Segment: seq, Index: index}
	return seq, index
}

// scan counts a segment's entries, cuts a torn tail, and marks the first
// skip entries as delivered.
func (s *Spool) scan(seg *segment, skip int) error {
	f, err := os.Open(seg.path)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [headerLen]byte
	payload := make([]byte, 0, 64<<10)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if !errors.Is(err, io.EOF) {
				s.r.Warn("spool segment ends with a torn record; cut off", "segment", seg.path, "offset", off)
			}
			break
		}
		n := binary.BigEndian.Uint32(hdr[0:])
		if n < 2 || n > maxPayload {
			s.r.Warn("spool segment holds an invalid record; the rest is cut off", "segment", seg.path, "offset", off)
			break
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(br, payload); err != nil || crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			s.r.Warn("spool segment ends with a torn record; cut off", "segment", seg.path, "offset", off)
			break
		}
		if seg.entries < skip {
			seg.readIndex++
			seg.readOffset = off + headerLen + int64(n)
		}
		seg.entries++
		off += headerLen + int64(n)
	}
	seg.size = off
	seg.acked = make([]bool, seg.entries)
	for i := range seg.readIndex {
		seg.acked[i] = true
	}
	seg.ackedN = seg.readIndex
	if fi, err := f.Stat(); err == nil && fi.Size() > off {
		if err := os.Truncate(seg.path, off); err != nil {
			return fmt.Errorf("spool: cut torn tail: %w", err)
		}
	}
	return nil
}

func (s *Spool) segPath(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, segSuffix))
}

// roll seals the segment being written and starts the next one.
func (s *Spool) roll() error {
	seq := max(s.nextSeq, 1)
	if s.wf != nil {
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.wf.Close()
		s.wf = nil
		if s.syncing {
			s.sealed = append(s.sealed, s.segs[len(s.segs)-1].path)
		}
	}
	// The number is recorded durably before it names any entry: a segment
	// file whose directory entry a power loss takes away (its entries may
	// have reached Kafka already) must not see its number used again under
	// the same instance ID, or the new entries would pass for copies.
	if seq > s.highWater {
		if err := atomicfile.WriteFile(filepath.Join(s.dir, highFile), strconv.AppendUint(nil, seq, 10), 0o640); err != nil {
			return fmt.Errorf("spool: high-water mark: %w", err)
		}
		s.highWater = seq
	}
	seg := &segment{seq: seq, path: s.segPath(seq)}
	f, err := os.OpenFile(seg.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.nextSeq = seq + 1
	s.wf = f
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, 256<<10)
	} else {
		s.w.Reset(f)
	}
	s.segs = append(s.segs, seg)
	// A sealed segment that was fully delivered can go now.
	if len(s.segs) >= 2 {
		s.maybeDelete(s.segs[len(s.segs)-2])
	}
	return nil
}

// EntrySize is the room an entry takes on disk, its header included: Append
// refuses one that does not fit beside Pending's bytes in Config.MaxBytes.
func EntrySize(key, value []byte) int64 { return int64(headerLen + 2 + len(key) + len(value)) }

// Append adds an entry holding records flow records. When the spool is full
// the policy applies: drop-newest drops this entry and returns ErrFull;
// drop-oldest deletes the oldest segments to make room.
func (s *Spool) Append(key, value []byte, records int) error {
	size := EntrySize(key, value)
	if len(key) > 0xffff || size-headerLen > maxPayload {
		return fmt.Errorf("spool: entry of %d bytes too large", size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.total+size > s.cfg.MaxBytes {
		if s.cfg.Policy == DropNewest {
			s.dropped.WithLabelValues(DropNewest).Add(float64(records))
			return ErrFull
		}
		for s.total+size > s.cfg.MaxBytes {
			if len(s.segs) == 1 {
				if err := s.roll(); err != nil {
					return err
				}
			}
			s.dropOldest()
		}
	}
	ws := s.segs[len(s.segs)-1]
	if ws.size > 0 && ws.size+size > s.cfg.SegmentBytes {
		if err := s.roll(); err != nil {
			return err
		}
		ws = s.segs[len(s.segs)-1]
	}
	var hdr [headerLen + 2]byte
	payloadLen := 2 + len(key) + len(value)
	binary.BigEndian.PutUint32(hdr[0:], uint32(payloadLen))
	binary.BigEndian.PutUint16(hdr[headerLen:], uint16(len(key)))
	crc := crc32.Update(0, crcTable, hdr[headerLen:])
	crc = crc32.Update(crc, crcTable, key)
	crc = crc32.Update(crc, crcTable, value)
	binary.BigEndian.PutUint32(hdr[4:], crc)
	binary.BigEndian.PutUint32(hdr[8:], uint32(records))
	s.w.Write(hdr[:])
	s.w.Write(key)
	s.w.Write(value)
	if err := s.w.Flush(); err != nil {
		// The segment's tail is now unknown: seal it at what is known and
		// start another, so later entries do not land after garbage.
		s.wf.Truncate(ws.size)
		s.w.Reset(s.wf)
		s.roll()
		return fmt.Errorf("spool: write: %w", err)
	}
	ws.size += size
	ws.entries++
	ws.acked = append(ws.acked, false)
	s.total += size
	s.appended.Add(float64(records))
	s.appendedBytes.Add(float64(size))
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

// Sync makes what Append took durable: it flushes the write buffer and
// fsyncs the segment being written. Append only hands entries to the
// operating system (enough when the process dies, not when the machine
// does); a writer that acknowledges its input upstream once the spool
// has it calls Sync first. Segments sealed since the last Sync are
// fsynced too, and the directory (their names), so entries that spilled
// into a new segment are covered. A spool on which Sync is never called
// (the collector's) keeps no such list and behaves as before.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spool: flush: %w", err)
	}
	if err := s.wf.Sync(); err != nil {
		return fmt.Errorf("spool: sync: %w", err)
	}
	if s.syncing && len(s.sealed) > 0 {
		for _, path := range s.sealed {
			if err := syncPath(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("spool: sync: %w", err)
			}
		}
		if err := syncPath(s.dir); err != nil {
			return fmt.Errorf("spool: sync: %w", err)
		}
	}
	s.sealed = s.sealed[:0]
	s.syncing = true
	return nil
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// dropOldest deletes the oldest segment, counting its entries not yet read
// as dropped. Entries already read (being delivered) complete normally;
// their acknowledgements are then ignored.
func (s *Spool) dropOldest() {
	seg := s.segs[0]
	unread := 0
	if f, err := os.Open(seg.path); err == nil {
		unread = countRecords(f, seg.readOffset)
		f.Close()
	}
	s.dropped.WithLabelValues(DropOldest).Add(float64(unread))
	s.r.Warn("spool full: oldest segment dropped", "segment", seg.path, "records", unread)
	s.remove(0)
}

// countRecords sums the flow records of the entries from offset on.
func countRecords(f *os.File, offset int64) int {
	var hdr [headerLen]byte
	total := 0
	for {
		if _, err := f.ReadAt(hdr[:], offset); err != nil {
			return total
		}
		total += int(binary.BigEndian.Uint32(hdr[8:]))
		offset += headerLen + int64(binary.BigEndian.Uint32(hdr[0:]))
	}
}

func (s *Spool) remove(i int) {
	seg := s.segs[i]
	if seg.rf != nil {
		seg.rf.Close()
	}
	os.Remove(seg.path)
	s.total -= seg.size
	s.segs = slices.Delete(s.segs, i, i+1)
	if s.read > i {
		s.read--
	}
}

// maybeDelete removes a sealed segment once every entry was read and
// acknowledged.
func (s *Spool) maybeDelete(seg *segment) {
	if seg == s.segs[len(s.segs)-1] || seg.readIndex < seg.entries || seg.ackedN < seg.entries {
		return
	}
	for i := range s.segs {
		if s.segs[i] == seg {
			s.remove(i)
			return
		}
	}
}

// Next returns the oldest entry not yet read, its key and value appended to
// buf[:0]; it waits for one until ctx ends.
func (s *Spool) Next(ctx context.Context, buf []byte) (Entry, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return Entry{}, ErrClosed
		}
		seg := s.segs[s.read]
		if seg.readIndex < seg.entries {
			e, err := s.readEntry(seg, buf)
			s.mu.Unlock()
			return e, err
		}
		if s.read < len(s.segs)-1 {
			s.read++
			s.maybeDelete(seg)
			s.mu.Unlock()
			continue
		}
		wait := s.notify
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Entry{}, ctx.Err()
		case <-wait:
		}
	}
}

func (s *Spool) readEntry(seg *segment, buf []byte) (Entry, error) {
	if seg.rf == nil {
		f, err := os.Open(seg.path)
		if err != nil {
			return Entry{}, fmt.Errorf("spool: %w", err)
		}
		seg.rf = f
	}
	var hdr [headerLen]byte
	if _, err := seg.rf.ReadAt(hdr[:], seg.readOffset); err != nil {
		return Entry{}, fmt.Errorf("spool: read %s at %d: %w", seg.path, seg.readOffset, err)
	}
	n := int(binary.BigEndian.Uint32(hdr[0:]))
	buf = slices.Grow(buf[:0], n)[:n]
	if _, err := seg.rf.ReadAt(buf, seg.readOffset+headerLen); err != nil {
		return Entry{}, fmt.Errorf("spool: read %s at %d: %w", seg.path, seg.readOffset, err)
	}
	if crc32.Checksum(buf, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
		// Skipped, so that one bad entry does not stop delivery.
		err := fmt.Errorf("spool: %s at %d: checksum mismatch; entry skipped (%d records)",
			seg.path, seg.readOffset, binary.BigEndian.Uint32(hdr[8:]))
		s.dropped.WithLabelValues("corrupt").Add(float64(binary.BigEndian.Uint32(hdr[8:])))
		seg.acked[seg.readIndex] = true
		seg.ackedN++
		seg.readIndex++
		seg.readOffset += headerLen + int64(n)
		return Entry{}, err
	}
	keyLen := int(binary.BigEndian.Uint16(buf))
	e := Entry{
		Key:     buf[2 : 2+keyLen],
		Value:   buf[2+keyLen:],
		Records: int(binary.BigEndian.Uint32(hdr[8:])),
		Pos:     Pos{Segment: seg.seq, Index: seg.readIndex},
		Buf:     buf,
	}
	e.ID = s.id + "-" + strconv.FormatUint(seg.seq, 10) + "-" + strconv.Itoa(seg.readIndex)
	seg.readIndex++
	seg.readOffset += headerLen + int64(n)
	return e, nil
}

// Ack records that the entry at pos was delivered; a segment whose entries
// are all delivered is deleted.
func (s *Spool) Ack(pos Pos) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		if seg.seq != pos.Segment {
			continue
		}
		if pos.Index < len(seg.acked) && !seg.acked[pos.Index] {
			seg.acked[pos.Index] = true
			seg.ackedN++
			s.maybeDelete(seg)
		}
		return
	}
}

// AckDurably acknowledges the entry at pos and writes the delivered
// position to the cursor file before it returns. It is for a reader that
// hands an entry on to memory, where a crash loses it: such a reader would
// rather lose the entry with the process than read it again after a
// restart and deliver it twice (the in-process queue's overflow). Use it
// instead of Start's periodic cursor, never with it: the cursor file has
// one writer between New and Stop.
func (s *Spool) AckDurably(pos Pos) error {
	s.Ack(pos)
	err := s.syncCursor()
	if err != nil && !errors.Is(err, ErrClosed) {
		s.cursorErrors.Inc()
	}
	return err
}

// Pending returns the entries not yet acknowledged and the bytes the spool
// holds on disk.
func (s *Spool) Pending() (entries int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		entries += seg.entries - seg.ackedN
	}
	return entries, s.total
}

// Start starts keeping the cursor file current: every CursorInterval,
// when acknowledgements moved the delivered position, it is written again.
// New opened the spool already.
func (s *Spool) Start(context.Context) error {
	interval := s.cfg.CursorInterval
	if interval == 0 {
		interval = defaultCursorInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopSync, s.syncDone = cancel, make(chan struct{})
	go func() {
		defer close(s.syncDone)
		t := time.NewTicker(interval)
		defer t.Stop()
		limiter := s.r.NewLimiter(1, time.Minute)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := s.syncCursor(); err != nil && !errors.Is(err, ErrClosed) {
				s.cursorErrors.Inc()
				limiter.Log(s.r.Logger, "cursor", "cannot record the spool's delivered position; after a crash more entries would be sent again", "error", err)
			}
		}
	}()
	return nil
}

// syncCursor writes the cursor file when the delivered position moved. The
// file is written outside the lock: between New and Stop only one
// goroutine writes it (Start's, or the one calling AckDurably).
func (s *Spool) syncCursor() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	at, ok := s.deliveredPos()
	s.mu.Unlock()
	if !ok || at == s.cursorAt {
		return nil
	}
	if err := s.storeCursor(at); err != nil {
		return err
	}
	return nil
}

// Stop flushes, records how far the oldest segment was delivered, and
// closes the files. Entries read but not acknowledged are read again at the
// next New. Nothing in it waits long, so ctx is not consulted.
func (s *Spool) Stop(context.Context) error {
	if s.stopSync != nil {
		s.stopSync()
		<-s.syncDone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.notify)
	var err error
	if s.w != nil {
		err = s.w.Flush()
	}
	if cerr := s.writeCursor(); cerr != nil && err == nil {
		err = cerr
	}
	s.closeFiles()
	if err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

func (s *Spool) closeFiles() {
	if s.wf != nil {
		s.wf.Close()
		s.wf = nil
	}
	for _, seg := range s.segs {
		if seg.rf != nil {
			seg.rf.Close()
			seg.rf = nil
		}
	}
}

// writeCursor records, durably, that the entries before the first one not
// acknowledged in the oldest segment were delivered. s.mu is held.
func (s *Spool) writeCursor() error {
	at, ok := s.deliveredPos()
	if !ok {
		return nil
	}
	return s.storeCursor(at)
}

// deliveredPos is the position of the first entry not acknowledged in the
// oldest segment (acknowledgements come in order, so every entry before it
// was delivered). s.mu is held.
func (s *Spool) deliveredPos() (Pos, bool) {
	if len(s.segs) == 0 {
		return Pos{}, false
	}
	first := s.segs[0]
	index := slices.Index(first.acked, false)
	if index < 0 {
		index = first.entries
	}
	return Pos{Segment: first.seq, Index: index}, true
}

func (s *Spool) storeCursor(at Pos) error {
	if err := atomicfile.WriteFile(filepath.Join(s.dir, cursorFile), fmt.Appendf(nil, "%d %d\n", at.Segment, at.Index), 0o640); err != nil {
		return fmt.Errorf("spool: cursor: %w", err)
	}
	s.cursorAt = at
	return nil
}

// Instance is the spool's instance ID, the first half of its entries'
// identity.
func (s *Spool) Instance() string { return s.id }
