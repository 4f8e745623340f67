"""Reviews of records: dispositions, electronic signatures, the users who sign, and the review chain."""
