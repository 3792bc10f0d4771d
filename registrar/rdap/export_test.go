package rdap

import "time"

// SetNow makes c read the time from now, for tests of the bootstrap
// refresh that must not wait.
func SetNow(c *Client, now func() time.Time) { c.now = now }
