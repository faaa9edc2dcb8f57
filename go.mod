module github.com/openfgs/openfgs

go 1.26
