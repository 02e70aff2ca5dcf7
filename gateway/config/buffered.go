package config

// validateBuffered checks the global body-buffer budget against the body
// limits it must hold: a budget below a route's max_body_bytes would answer
// 503 to every large body of that route, never 413.
func (c *Config) validateBuffered(ch *checker) {
	g := &c.Limits
	if g.MaxBufferedBytes < 0 || g.MaxBufferedBytes > 1<<40 {
		ch.add("limits.max_buffered_bytes", "%d is out of range (want 1..1TiB)", g.MaxBufferedBytes)
	}
	if g.MaxAnonymousBufferedBytes < 0 || g.MaxAnonymousBufferedBytes > g.MaxBufferedBytes {
		ch.add("limits.max_anonymous_buffered_bytes", "%d is out of range (want 1..limits.max_buffered_bytes %d)",
			g.MaxAnonymousBufferedBytes, g.MaxBufferedBytes)
	}
	if g.MaxBodyBytes > g.MaxBufferedBytes {
		ch.add("limits.max_buffered_bytes", "%d is below limits.max_body_bytes %d", g.MaxBufferedBytes, g.MaxBodyBytes)
	}
	for i := range c.Routes {
		if b := c.Routes[i].Limits.MaxBodyBytes; b > g.MaxBufferedBytes {
			ch.add("limits.max_buffered_bytes", "%d is below routes[%d].limits.max_body_bytes %d", g.MaxBufferedBytes, i, b)
		}
	}
}

// globalOnly rejects the limits a route cannot override.
func globalOnly(ch *checker, p string, l *Limits) {
	if l.MaxBufferedBytes != 0 {
		ch.add(p+".max_buffered_bytes", "is global (set it under limits, not in a route)")
	}
	if l.MaxAnonymousBufferedBytes != 0 {
		ch.add(p+".max_anonymous_buffered_bytes", "is global (set it under limits, not in a route)")
	}
}

// withinGlobal refuses a route's head limit above the global one: the
// global limits are checked before routing, so a larger route value could
// never take effect.
func withinGlobal(ch *checker, p string, l, g *Limits) {
	for _, f := range []struct {
		name        string
		route, glob int64
	}{
		{"max_headers", int64(l.MaxHeaders), int64(g.MaxHeaders)},
		{"max_url_bytes", int64(l.MaxURLBytes), int64(g.MaxURLBytes)},
		{"max_query_bytes", int64(l.MaxQueryBytes), int64(g.MaxQueryBytes)},
	} {
		if f.route > f.glob {
			ch.add(p+"."+f.name, "%d exceeds limits.%s %d, which is checked first, before routing (a route may only be stricter)", f.route, f.name, f.glob)
		}
	}
}
