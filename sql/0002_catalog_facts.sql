-- 0002_catalog_facts: the rest of a model card's facts (catalog/).
--
-- hidden_size and vocab_size complete the architecture facts (head_dim is
-- not always hidden_size / n_heads, e.g. Gemma 2); source_url says where the
-- original model is published. They are NULL only for rows written before
-- this migration; the catalog import always sets them.
-- size_source says whether model_files.size_bytes was measured ('exact') or
-- estimated from parameters x bits per weight ('estimated', for files whose
-- weights are in no center). A fetchable file (uri set) always has an exact
-- size, like it always has its sha256.
ALTER TABLE models
  ADD COLUMN hidden_size integer,
  ADD COLUMN vocab_size  integer,
  ADD COLUMN source_url  text,
  ADD CONSTRAINT models_hidden_size_check CHECK (hidden_size IS NULL OR hidden_size > 0),
  ADD CONSTRAINT models_vocab_size_check CHECK (vocab_size IS NULL OR vocab_size > 0),
  ADD CONSTRAINT models_source_url_format
    CHECK (source_url IS NULL OR (source_url ~ '^https?://.+' AND char_length(source_url) <= 2000));

ALTER TABLE model_files
  ADD COLUMN size_source text NOT NULL DEFAULT 'exact',
  ADD CONSTRAINT model_files_size_source_check CHECK (size_source IN ('exact', 'estimated')),
  ADD CONSTRAINT model_files_fetchable_size_check CHECK (uri IS NULL OR size_source = 'exact');
