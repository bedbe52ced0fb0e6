package stack

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kuzet-kz/kuzet/internal/demo"
)

// startDemo sends the demo feed to the collectors: syslog over TCP, Windows
// events as NDJSON over HTTP once a second.
func (s *Stack) startDemo(rate int) {
	ctx, cancel := context.WithCancel(context.Background())
	s.demoStop, s.demoDone = cancel, make(chan struct{})
	gen := demo.NewGenerator(uint64(time.Now().UnixNano()), nil)
	conns := map[string]net.Conn{}
	var mu sync.Mutex
	win := map[string]*bytes.Buffer{}
	client := &http.Client{Timeout: 10 * time.Second}
	flushWin := func() {
		mu.Lock()
		defer mu.Unlock()
		for oisc, buf := range win {
			if buf.Len() == 0 {
				continue
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.InputAddr(oisc, InputWinevent)+"/v1/ingest", bytes.NewReader(buf.Bytes()))
			req.Header.Set("Authorization", "Bearer "+s.key)
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("demo: winevent post", "err", err)
				}
			} else {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					s.log.Warn("demo: winevent post", "status", resp.StatusCode)
				}
			}
			buf.Reset()
		}
	}
	send := func(r demo.Record) error {
		if r.Input == "winevent" {
			mu.Lock()
			if win[r.OISC] == nil {
				win[r.OISC] = &bytes.Buffer{}
			}
			win[r.OISC].Write(r.Data)
			win[r.OISC].WriteByte('\n')
			mu.Unlock()
			return nil
		}
		conn := conns[r.OISC]
		if conn == nil {
			c, err := net.DialTimeout("tcp", s.InputAddr(r.OISC, InputSyslogTCP), 5*time.Second)
			if err != nil {
				s.log.Warn("demo: dial", "err", err)
				return nil
			}
			conn, conns[r.OISC] = c, c
		}
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := fmt.Fprintf(conn, "%d %s", len(r.Data), r.Data); err != nil {
			conn.Close()
			delete(conns, r.OISC)
		}
		return nil
	}
	go func() {
		defer close(s.demoDone)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					flushWin()
				}
			}
		}()
		_ = gen.Run(ctx, rate, send)
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	}()
}
