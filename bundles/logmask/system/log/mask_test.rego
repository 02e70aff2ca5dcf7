package system.log_test

import data.system.log

test_password_is_masked if {
	"/input/request/body/password" in log.mask with input as {"input": {"request": {"body": {"password": "x"}}}}
}

test_events_are_not_dropped if {
	not log.drop
}

test_events_without_password_get_no_op if {
	count(log.mask) == 0 with input as {"input": {"request": {"body": {"name": "x"}}}}
}
