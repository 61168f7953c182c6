package cws

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// History remembers every key a key source has held since it was created,
// so that a reload cannot alter a key: the CWS specification says a key,
// once added, cannot be altered, and user names are unique.
//
// A reload may add users and may drop them (revocation), but a user seen
// before must keep the key it had, even after being dropped: re-adding a
// name with another key is altering it. To replace a key, add it under a
// new user name.
//
// The Caddy adapter keeps one History per key source for the life of the
// process (it does not survive a restart).
type History struct {
	mu   sync.Mutex
	seen map[string]seenKey
}

type seenKey struct {
	fingerprint [32]byte
	origin      string
}

// NewHistory returns an empty History.
func NewHistory() *History { return &History{seen: make(map[string]seenKey)} }

// KeyChangedError lists the users whose key a reload tried to alter.
type KeyChangedError struct {
	Changes []KeyChange
}

// KeyChange is one user's attempted key change.
type KeyChange struct {
	User                 string
	Was, Now             [32]byte // fingerprints
	WasOrigin, NowOrigin string
}

// maxListed bounds the changes an error message spells out.
const maxListed = 5

func (e *KeyChangedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cws: keys cannot be altered, but %d user(s) have a different key:", len(e.Changes))
	for i, c := range e.Changes {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(e.Changes)-maxListed)
			break
		}
		fmt.Fprintf(&b, " %q (was sha256:%s from %s, now sha256:%s in %s);", c.User,
			hex.EncodeToString(c.Was[:8]), c.WasOrigin, hex.EncodeToString(c.Now[:8]), c.NowOrigin)
	}
	b.WriteString(" the keys in force stay; give a new key a new user name")
	return b.String()
}

// Admit checks next against every key seen before. If no user's key
// changed, it records next's keys and returns nil; otherwise it records
// nothing and returns a *KeyChangedError.
func (h *History) Admit(next *Registry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var changed []KeyChange
	for user, k := range next.keys {
		if was, ok := h.seen[user]; ok && was.fingerprint != k.Fingerprint {
			changed = append(changed, KeyChange{User: user, Was: was.fingerprint, Now: k.Fingerprint, WasOrigin: was.origin, NowOrigin: k.Origin})
		}
	}
	if len(changed) > 0 {
		slices.SortFunc(changed, func(a, b KeyChange) int { return strings.Compare(a.User, b.User) })
		return &KeyChangedError{Changes: changed}
	}
	for user, k := range next.keys {
		if _, ok := h.seen[user]; !ok {
			h.seen[user] = seenKey{fingerprint: k.Fingerprint, origin: k.Origin}
		}
	}
	return nil
}
