# docs
dist_doc_DATA = docs/FORMAT.md
