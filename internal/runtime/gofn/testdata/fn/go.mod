module example.com/fn

go 1.22

require huaweicloud.com/go-runtime v0.0.0

replace huaweicloud.com/go-runtime => ../../../../../runtimes/go-runtime
