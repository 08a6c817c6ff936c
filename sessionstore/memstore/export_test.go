package memstore

// IndexLen returns how many entries the per-user index of userID holds,
// for storetest's raw index checks.
func IndexLen(m *Store, userID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users[userID])
}
