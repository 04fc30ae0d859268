package chhttp

// HTTPStatus is httpStatus, for the table test.
var HTTPStatus = httpStatus
