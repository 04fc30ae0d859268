package udp

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestListenerReceivesOnEverySocket(t *testing.T) {
	l, err := Listen(context.Background(), Config{Listen: "127.0.0.1:0", Sockets: 3, ReceiveBuffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.ReceiveBuffer(); got < 1<<20 {
		t.Errorf("receive buffer = %d, want >= 1 MiB", got)
	}
	var mu sync.Mutex
	received := map[string]int{}
	done := make(chan struct{})
	const want = 200
	total := 0
	l.Serve(func(d *Datagram) {
		mu.Lock()
		received[string(d.Payload)]++
		total++
		if total == want {
			close(done)
		}
		mu.Unlock()
		if !d.Source.Addr().Is4() {
			t.Errorf("source %s should be unmapped IPv4", d.Source)
		}
		d.Release()
	}, func(err error) { t.Error(err) })

	// Many source sockets so SO_REUSEPORT spreads them over our sockets.
	for i := 0; i < want; i++ {
		c, err := net.Dial("udp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte{byte(i), byte(i >> 8), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("received %d of %d datagrams", total, want)
	}
	l.Close()
	if len(received) != want {
		t.Fatalf("distinct payloads = %d, want %d", len(received), want)
	}
}

func TestListenErrorNamesAddress(t *testing.T) {
	_, err := Listen(context.Background(), Config{Listen: "256.0.0.1:2055"})
	if err == nil || !strings.Contains(err.Error(), "256.0.0.1:2055") {
		t.Fatalf("err = %v, want one naming the address", err)
	}
}

func TestParseKernelDrops(t *testing.T) {
	table := []byte(`   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 00000000:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 ffff 17
  124: 0100007F:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2 2 ffff 3
  125: 00000000:18BF 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3 2 ffff 99
`)
	if got := parseKernelDrops(table, 2055); got != 20 {
		t.Fatalf("drops on 2055 = %d, want 20", got)
	}
	if got := parseKernelDrops(table, 6335); got != 99 {
		t.Fatalf("drops on 6335 = %d, want 99", got)
	}
}

// Close hands on what the kernel already accepted before closing: a
// datagram received is decoded, not discarded, at shutdown.
func TestCloseDrainsTheSocket(t *testing.T) {
	l, err := Listen(context.Background(), Config{Listen: "127.0.0.1:0", ReceiveBuffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 500
	for i := range sent {
		if _, err := c.Write([]byte{byte(i), byte(i >> 8)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	handled := 0
	l.Serve(func(d *Datagram) {
		mu.Lock()
		handled++
		mu.Unlock()
		d.Release()
	}, func(err error) { t.Error(err) })
	l.Close() // at once: everything is still in the socket buffer
	if handled != sent {
		t.Fatalf("handled %d of the %d datagrams the kernel held", handled, sent)
	}
}
