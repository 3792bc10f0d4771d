package registrar

// MapHostup maps a status reported by a Hostup-style API, whose vocabulary is
// already the normalized enum, to a [Status]. "fraud" is a decision of the
// hosting provider, never a registrar reading, so it maps to [StatusUnknown]
// like every value outside the enum.
func MapHostup(raw string) Status {
	s := Status(raw)
	if !s.Valid() || s == StatusFraud {
		return StatusUnknown
	}
	return s
}
