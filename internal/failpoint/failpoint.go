// Package failpoint lets fault-injection tests crash a kuzet process at a
// named point of its work. The environment variable KUZET_FAILPOINT holds
// "name:n" (comma-separated for several): the n-th time the process reaches
// the point called name, it kills itself with SIGKILL, exactly as an
// operator's kill -9 or the OOM killer would. Without the variable every
// point is a single atomic load.
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Env is the variable that arms failpoints.
const Env = "KUZET_FAILPOINT"

type point struct {
	at   int64
	hits atomic.Int64
}

var (
	armed  atomic.Bool
	once   sync.Once
	points map[string]*point
)

func load() {
	points = map[string]*point{}
	for _, spec := range strings.Split(os.Getenv(Env), ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(spec), ":")
		if !ok {
			continue
		}
		at, err := strconv.ParseInt(n, 10, 64)
		if err != nil || at < 1 {
			continue
		}
		points[name] = &point{at: at}
		armed.Store(true)
	}
}

func init() { once.Do(load) }

// Hit marks that the process reached the named point; when the point is
// armed for this hit, the process dies on the spot.
func Hit(name string) {
	if !armed.Load() {
		return
	}
	p := points[name]
	if p == nil {
		return
	}
	if p.hits.Add(1) == p.at {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
