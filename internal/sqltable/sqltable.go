// Package sqltable holds what ginauth's SQL tables have in common (the
// GORM session store's and the SQL login throttle's): an index created by
// name when missing, and expired rows deleted in bounded batches.
package sqltable

import (
	"context"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// CreateIndex creates the index idx_<table>_<column> on table (column) when
// it is missing. The name carries the table's because PostgreSQL's index
// names share one namespace per schema. Another process creating the same
// index at the same moment is not an error.
func CreateIndex(db *gorm.DB, table, column string) error {
	return createIndex(db, "INDEX", table, column)
}

// CreateUniqueIndex is CreateIndex for a unique index on one or more
// columns, named idx_<table>_<column>_<column>...
func CreateUniqueIndex(db *gorm.DB, table string, columns ...string) error {
	return createIndex(db, "UNIQUE INDEX", table, columns...)
}

func createIndex(db *gorm.DB, kind, table string, columns ...string) error {
	name := "idx_" + table + "_" + strings.Join(columns, "_")
	if db.Migrator().HasIndex(table, name) {
		return nil
	}
	vars := []any{clause.Table{Name: name}, clause.Table{Name: table}}
	for _, c := range columns {
		vars = append(vars, clause.Column{Name: c})
	}
	cols := strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ")
	err := db.Exec("CREATE "+kind+" ? ON ? ("+cols+")", vars...).Error
	if err != nil && !db.Migrator().HasIndex(table, name) {
		return err
	}
	return nil
}

// DeleteExpired deletes at most batch rows of table whose expires_at
// (Unix ms) is at or before at, naming them by their key_hash primary key,
// and reports how many it deleted and whether there may be more. model is
// the table's GORM model. The condition is checked again by the DELETE, so
// a row rewritten with a later expiry in between stays.
func DeleteExpired(ctx context.Context, db *gorm.DB, table string, model any, at int64, batch int) (n int, more bool, err error) {
	q := db.WithContext(ctx).Table(table)
	var keys []string
	if err := q.Where("expires_at <= ?", at).Limit(batch).Pluck("key_hash", &keys).Error; err != nil {
		return 0, false, err
	}
	if len(keys) == 0 {
		return 0, false, nil
	}
	res := db.WithContext(ctx).Table(table).Where("key_hash IN ? AND expires_at <= ?", keys, at).Delete(model)
	if res.Error != nil {
		return 0, false, res.Error
	}
	return int(res.RowsAffected), len(keys) == batch, nil
}
