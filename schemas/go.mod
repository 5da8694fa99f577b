module github.com/liqstream/liqstream/schemas

go 1.26.0
