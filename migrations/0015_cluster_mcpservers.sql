-- The `MCPServer`s Apiary's deletion watch has seen in the cluster, by namespace and name. A
-- row whose object is missing from the watch's first full list after a start was deleted while
-- Apiary was down: the server of that name is unpublished then, as a deletion seen live is.
CREATE TABLE cluster_mcpservers (
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
