"""Operations: model downloads (`fetch`), database care and retention (`maintenance`), and
`/healthz` + `/metrics` (`metrics`)."""
