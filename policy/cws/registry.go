package cws

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Registry maps key users to their public keys. It is immutable once
// loaded, so lookups need no lock.
type Registry struct {
	keys map[string]*Key
}

// Sources says where a Registry's keys are. At least one is required.
type Sources struct {
	// Dir is a directory of PEM files, one key each: the user is the file
	// name without ".pem" (alice.pem → alice). Files not ending in ".pem",
	// hidden files and subdirectories are not keys.
	Dir string
	// File lists users and keys: a user name on a line of its own,
	// followed by that user's PEM block; blank lines and lines starting
	// with "#" between entries are ignored.
	File string
}

// String names the sources, for errors and as a key of the process-wide
// key history.
func (s Sources) String() string {
	switch {
	case s.Dir != "" && s.File != "":
		return "directory " + s.Dir + " and file " + s.File
	case s.Dir != "":
		return "directory " + s.Dir
	}
	return "file " + s.File
}

// NewRegistry builds a Registry from keys; a user given twice is an error.
func NewRegistry(keys ...*Key) (*Registry, error) {
	r := &Registry{keys: make(map[string]*Key, len(keys))}
	for _, k := range keys {
		if err := r.add(k); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Registry) add(k *Key) error {
	if have, dup := r.keys[k.User]; dup {
		return fmt.Errorf("cws: user %q defined twice: in %s and in %s (user names are unique)", k.User, have.Origin, k.Origin)
	}
	r.keys[k.User] = k
	return nil
}

// Load reads the keys of src. Any unreadable file, any key that is not an
// RSA key of at least MinBits, and any user defined twice fails the whole
// load: a registry is never partly loaded.
func Load(src Sources) (*Registry, error) {
	if src.Dir == "" && src.File == "" {
		return nil, errors.New("cws: no key source (want a directory, a file or both)")
	}
	r := &Registry{keys: make(map[string]*Key)}
	if src.Dir != "" {
		if err := r.loadDir(src.Dir); err != nil {
			return nil, err
		}
	}
	if src.File != "" {
		if err := r.loadFile(src.File); err != nil {
			return nil, err
		}
	}
	if len(r.keys) == 0 {
		return nil, fmt.Errorf("cws: no keys in %s", src)
	}
	return r, nil
}

func (r *Registry) loadDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cws: reading key directory: %w", err)
	}
	var pending []pendingKey
	for _, e := range entries {
		name := e.Name()
		user, isKey := strings.CutSuffix(name, ".pem")
		if !isKey || strings.HasPrefix(name, ".") || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, name)
		if e.Type()&fs.ModeSymlink != 0 {
			// Secrets mounted by Kubernetes are symlinks; follow them
			// to files, but not to directories.
			if fi, err := os.Stat(path); err != nil || fi.IsDir() {
				if err != nil {
					return fmt.Errorf("cws: key file %s: %w", path, err)
				}
				continue
			}
		}
		if err := CheckUser(user); err != nil {
			return fmt.Errorf("cws: key file %s: %w", path, err)
		}
		pending = append(pending, pendingKey{user: user, kind: "key file", origin: path, path: path})
	}
	return r.addAll(pending)
}

func (r *Registry) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cws: reading key file: %w", err)
	}
	pending, err := scanKeyList(data, path)
	if err != nil {
		return err
	}
	return r.addAll(pending)
}

// pendingKey is a key found but not yet parsed.
type pendingKey struct {
	user   string
	kind   string // "key file" or "key list", for errors
	origin string // file, or file:line
	path   string // the PEM is this file, or
	data   []byte // these bytes
}

func (p *pendingKey) parse() (*Key, error) {
	data := p.data
	if p.path != "" {
		var err error
		if data, err = os.ReadFile(p.path); err != nil {
			return nil, fmt.Errorf("cws: reading key file: %w", err)
		}
	}
	pub, fp, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("cws: %s %s: user %q: %w", p.kind, p.origin, p.user, err)
	}
	return &Key{User: p.user, Public: pub, Fingerprint: fp, Origin: p.origin}, nil
}

// addAll parses the pending keys on every CPU (100,000 keys are mostly
// base64 and ASN.1 work) and adds them in order, so the error reported is
// the first in the source, whatever the scheduling.
func (r *Registry) addAll(pending []pendingKey) error {
	keys := make([]*Key, len(pending))
	errs := make([]error, len(pending))
	workers := max(1, min(runtime.GOMAXPROCS(0), len(pending)))
	chunk := (len(pending) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(pending); lo += chunk {
		hi := min(lo+chunk, len(pending))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				keys[i], errs[i] = pending[i].parse()
			}
		})
	}
	wg.Wait()
	for i, k := range keys {
		if errs[i] != nil {
			return errs[i]
		}
		if err := r.add(k); err != nil {
			return err
		}
	}
	return nil
}

// scanKeyList splits the user-and-key list format of Sources.File:
//
//	# comment
//	alice
//	-----BEGIN PUBLIC KEY-----
//	…
//	-----END PUBLIC KEY-----
//	bob
//	-----BEGIN RSA PUBLIC KEY-----
//	…
func scanKeyList(data []byte, name string) ([]pendingKey, error) {
	var pending []pendingKey
	line := 1 // of data[off]
	off := 0
	next := func() []byte { // the line at off, without its newline; advances
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data) - off
		}
		l := data[off : off+end]
		off += end
		if off < len(data) {
			off++
		}
		line++
		return bytes.TrimRight(l, "\r")
	}
	for off < len(data) {
		userLine := line
		l := bytes.TrimSpace(next())
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		user := string(l)
		if bytes.HasPrefix(l, []byte("-----")) {
			return nil, fmt.Errorf("cws: key list %s:%d: a PEM block without a user name before it", name, userLine)
		}
		if err := CheckUser(user); err != nil {
			return nil, fmt.Errorf("cws: key list %s:%d: %w", name, userLine, err)
		}
		// The block runs from the next line to the first END line.
		start := off
		endAt := bytes.Index(data[off:], []byte("-----END "))
		if endAt < 0 {
			return nil, fmt.Errorf("cws: key list %s:%d: user %q has no PEM block after it", name, userLine, user)
		}
		off += endAt
		for off < len(data) && data[off] != '\n' {
			off++
		}
		block := data[start:off]
		line += bytes.Count(block, []byte("\n"))
		if off < len(data) {
			off++
			line++
		}
		pending = append(pending, pendingKey{user: user, kind: "key list", origin: name + ":" + strconv.Itoa(userLine), data: block})
	}
	return pending, nil
}

// Lookup returns the key of user, compared exactly.
func (r *Registry) Lookup(user string) (*Key, bool) {
	k, ok := r.keys[user]
	return k, ok
}

// Len is the number of key users.
func (r *Registry) Len() int { return len(r.keys) }

// Users lists the key users, sorted.
func (r *Registry) Users() []string {
	return slices.Sorted(maps.Keys(r.keys))
}
