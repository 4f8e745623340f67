"""What leaves tracelake as files for people and other systems: answers as JSON/CSV/tables
(:mod:`.formats`) and the recall list (:mod:`.recall`)."""
