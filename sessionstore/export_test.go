package sessionstore

// The two ways of reading a body, for the differential fuzz target.
var (
	FastUnmarshalBody = fastUnmarshalBody
	SlowUnmarshalBody = slowUnmarshalBody
)
