(guard (e (#t (display (condition/report-string e)))) (sleep 4611686018427387903))
(select ((timeout 100000) => (lambda () 'late)))
