module huaweicloud.com/go-runtime

go 1.22
