package hostside

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// A lease is the right to run one lane on a host: one of its slots. A
// slot is a lock file, <cache>/odu/slots/<n>.lock (n from 1), and a lane
// holds its slot by holding an flock(2) on that file for its runner's
// whole life: the runner has the locked descriptor (passed to it when it
// starts, see [Attach.Lease]), so the lease ends with it, however it
// ends (kill -9, its idle bound), and no lease outlives a dead runner.
// Every coordinator of every user that logs in as the same host account
// sees the same files.
//
// The file says who holds it ([Holder], JSON), written once the lock is
// taken; what a file says is only true while it is locked (a free slot
// keeps what its last holder wrote), and its time is when it was last
// leased.

// SlotsPath is the directory of a host's slot files.
func SlotsPath(cache string) string { return path.Join(cache, "odu", "slots") }

// SlotFile is slot n's lock file in dir.
func SlotFile(dir string, n int) string { return filepath.Join(dir, strconv.Itoa(n)+".lock") }

// Holder says who holds a slot.
type Holder struct {
	Who      string    `json:"who"`    // user@machine of the coordinator
	Repo     string    `json:"repo"`   // the repository, as its checkout's path on that machine
	Commit   string    `json:"commit"` // the commit under test
	Platform string    `json:"platform"`
	Since    time.Time `json:"since"`
	PID      int       `json:"pid,omitempty"`     // the runner that holds it
	Version  string    `json:"version,omitempty"` // the runner's odu version
}

// Slot is one slot of a host, as [Slots] finds it.
type Slot struct {
	N    int       `json:"slot"`
	Held bool      `json:"held"`
	By   *Holder   `json:"holder,omitempty"` // while held, when the holder said (nil just after it was taken)
	Used time.Time `json:"used,omitzero"`    // when it was last leased; zero when never
}

// ErrSlotsBusy is [TakeSlot]'s error when every slot is held.
var ErrSlotsBusy = errors.New("every slot of the host is held")

// ExitBusy is how `odu runner --attach --lease` exits when every slot of
// the host is held: the coordinator's lane waits in line.
const ExitBusy = 4

// TakeSlot leases the first free one of slots slots in dir: it returns
// the slot's file, locked (the lease lasts while a descriptor of it is
// open) and its number, or ErrSlotsBusy.
func TakeSlot(dir string, slots int) (*os.File, int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("create the slots directory: %w", err)
	}
	for n := 1; n <= slots; n++ {
		// O_NOFOLLOW: a slot file that is a symlink is refused, never
		// followed (see DESIGN.md, "Nothing followed").
		f, err := os.OpenFile(SlotFile(dir, n), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, 0, fmt.Errorf("open slot %d: %w", n, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			return nil, 0, fmt.Errorf("lock slot %d: %w", n, err)
		}
		now := time.Now()
		_ = os.Chtimes(f.Name(), now, now) // when it was last leased: for the least recently used host first
		return f, n, nil
	}
	return nil, 0, ErrSlotsBusy
}

// WriteHolder says in a slot's locked file who holds it.
func WriteHolder(f *os.File, h Holder) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("write the slot's holder: %w", err)
	}
	return nil
}

// Slots says which of slots slots in dir are held, and by whom.
func Slots(dir string, slots int) []Slot {
	out := make([]Slot, 0, slots)
	for n := 1; n <= slots; n++ {
		s := Slot{N: n}
		f, err := os.OpenFile(SlotFile(dir, n), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if errors.Is(err, fs.ErrNotExist) {
			out = append(out, s)
			continue
		}
		if err != nil {
			// A file odu cannot open cannot be leased either.
			s.Held = true
			s.By = &Holder{Who: "(unreadable: " + err.Error() + ")"}
			out = append(out, s)
			continue
		}
		if fi, err := f.Stat(); err == nil {
			s.Used = fi.ModTime()
		}
		// A shared lock, taken and dropped at once: it fails only while
		// a lease holds the slot. (A lane that tries to take the slot in
		// that instant finds it busy and tries again at its next poll.)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
			s.Held = true
			var h Holder
			if data, err := io.ReadAll(io.LimitReader(f, 64<<10)); err == nil && json.Unmarshal(data, &h) == nil {
				s.By = &h
			}
		}
		f.Close()
		out = append(out, s)
	}
	return out
}

// KeepLease keeps a lease inherited as descriptor fd for the rest of the
// process's life, and out of what it starts: a node that outlived its
// runner (setsid) must not hold the runner's slot.
func KeepLease(fd int) (*os.File, error) {
	if fd <= 2 {
		return nil, fmt.Errorf("lease descriptor %d is not one", fd)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("lease descriptor %d: %w", fd, err)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "lease"), nil
}

// Info is what `odu runner --slots` says of a host: for the queue and for
// `odu hosts`.
type Info struct {
	Version string `json:"version"` // the odu version of the runner that answers
	Slots   []Slot `json:"slots"`
	// CacheBytes is the disk odu's cache uses on the host; -1 when not
	// asked, or not measured in time.
	CacheBytes int64 `json:"cache_bytes"`
}

// HostInfo says what a host's slots are, and with du, how much disk
// odu's cache there uses (walked for at most duFor).
func HostInfo(cache string, slots int, version string, du bool, duFor time.Duration) Info {
	in := Info{Version: version, Slots: Slots(SlotsPath(cache), slots), CacheBytes: -1}
	if du {
		in.CacheBytes = diskUse(filepath.Join(cache, "odu"), time.Now().Add(duFor))
	}
	return in
}

// diskUse sums the disk blocks under dir, or -1 when the walk passes
// deadline: a cache of many workspaces is not worth a slow answer.
func diskUse(dir string, deadline time.Time) int64 {
	var total int64
	i := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file gone meanwhile, or unreadable: not counted
		}
		if i++; i%256 == 0 && time.Now().After(deadline) {
			return errTooLong
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += int64(st.Blocks) * 512
		} else {
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return -1
	}
	return total
}

var errTooLong = errors.New("too long")

// LocalCache is this machine's cache directory, found as a build host's
// is: $XDG_CACHE_HOME when absolute, else ~/.cache.
func LocalCache(getenv func(string) string, home string) string {
	if d := getenv("XDG_CACHE_HOME"); filepath.IsAbs(d) {
		return d
	}
	return filepath.Join(home, ".cache")
}
