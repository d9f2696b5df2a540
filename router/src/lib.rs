//! slotkv-router: one big Redis in front of a slotkv cluster. Built in issue 9.
