package server

// globMatch reports whether s matches the Redis glob pattern p: '*' any
// run, '?' one byte, '[abc]', '[^a]', '[a-z]' classes, '\' escapes. It is
// iterative with one backtrack point per '*', so its cost is bounded by
// len(p)*len(s) whatever the pattern.
func globMatch(p, s []byte) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				pi++
				si++
				continue
			case '[':
				if ok, next := matchClass(p, pi, s[si]); ok {
					pi, si = next, si+1
					continue
				}
			case '\\':
				if pi+1 < len(p) && p[pi+1] == s[si] {
					pi, si = pi+2, si+1
					continue
				}
			default:
				if p[pi] == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchClass matches c against the class starting at p[i] == '['; it
// returns whether it matched and the index after the class. An
// unterminated class matches nothing.
func matchClass(p []byte, i int, c byte) (bool, int) {
	i++
	negate := i < len(p) && p[i] == '^'
	if negate {
		i++
	}
	matched := false
	for first := true; i < len(p) && (first || p[i] != ']'); first = false {
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		hi := lo
		if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
			hi = p[i+2]
			i += 2
			if lo > hi {
				lo, hi = hi, lo
			}
		}
		if lo <= c && c <= hi {
			matched = true
		}
		i++
	}
	if i >= len(p) {
		return false, i
	}
	return matched != negate, i + 1
}

// globPrefix returns the literal prefix of a pattern: the bytes before
// its first special character.
func globPrefix(p []byte) []byte {
	var out []byte
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[':
			return out
		case '\\':
			if i+1 < len(p) {
				i++
			}
		}
		out = append(out, p[i])
	}
	return out
}
