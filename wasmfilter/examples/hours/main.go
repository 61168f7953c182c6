// Command hours is a healthgate rule: a role may not access outside
// configured hours, unless the request carries an excepted purpose of use.
//
// Config: role (required, e.g. NURSE), role_claim (default "role"), hours
// (default "07:00-19:00", local time, end exclusive), utc_offset (default
// "+00:00"), except_purpose_of_use (default none; e.g. EMERG).
//
// The role outside its hours → deny 403 outside_hours; otherwise abstain. A
// malformed config refuses to load the rule (configure returns 1).
package main

import (
	"errors"
	"strconv"
	"strings"

	"github.com/healthgate/healthgate/wasmfilter/sdk/go/rule"
)

// The parsed config, read once per instance by configure.
var (
	from, to   int // minutes since midnight, local
	offset     int // minutes east of UTC
	role       string
	roleClaim  string
	span       string
	exceptions []string
)

func init() {
	rule.Configure(configure)
	rule.Handle(decide)
}

func configure() error {
	var ok1, ok2, ok3 bool
	span = first("hours", "07:00-19:00")
	a, b, _ := strings.Cut(span, "-")
	from, ok1 = clock(a)
	to, ok2 = clock(b)
	offset, ok3 = utcOffset(first("utc_offset", "+00:00"))
	role, roleClaim = first("role", ""), "claims."+first("role_claim", "role")
	exceptions = rule.Config("except_purpose_of_use")
	if !ok1 || !ok2 || !ok3 || role == "" {
		return errors.New("hours: want config role, hours HH:MM-HH:MM and utc_offset ±HH:MM")
	}
	return nil
}

func decide() rule.Decision {
	if !rule.Has(roleClaim, role) {
		return rule.Abstain
	}
	if len(exceptions) > 0 && rule.HasAny("purpose_of_use", exceptions...) {
		return rule.Abstain
	}
	t := rule.Now().UTC()
	now := ((t.Hour()*60+t.Minute()+offset)%1440 + 1440) % 1440
	inside := from <= now && now < to
	if from > to { // a span over midnight, 19:00-07:00
		inside = now >= from || now < to
	}
	if inside {
		return rule.Abstain
	}
	return rule.DenyWith(403, "outside_hours", "role not allowed outside "+span)
}

func first(key, def string) string {
	if vs := rule.Config(key); len(vs) > 0 {
		return vs[0]
	}
	return def
}

// clock parses HH:MM into minutes since midnight.
func clock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh*60+mm > 1440 {
		return 0, false
	}
	return hh*60 + mm, true
}

// utcOffset parses ±HH:MM into minutes.
func utcOffset(s string) (int, bool) {
	if len(s) < 2 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	m, ok := clock(s[1:])
	if s[0] == '-' {
		m = -m
	}
	return m, ok
}

func main() {}
