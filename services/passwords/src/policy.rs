//! The password policy applied when a password is set.

use zxcvbn::Score;

use crate::MAX_PASSWORD_BYTES;

/// What a new password must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The minimum length, in characters (not bytes). Default 10.
    pub min_length: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self { min_length: 10 }
    }
}

/// What is known about the user, so that the password does not repeat it.
/// Empty fields are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyContext<'a> {
    /// The user's login name.
    pub username: &'a str,
    /// The user's email address.
    pub email: &'a str,
    /// The user's first name.
    pub first_name: &'a str,
    /// The user's last name.
    pub last_name: &'a str,
}

impl Policy {
    /// Checks a new password, returning every rule it breaks as a message
    /// fit to show to the user.
    pub fn check(&self, password: &str, context: &PolicyContext<'_>) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if password.chars().count() < self.min_length {
            problems.push(format!(
                "the password must be at least {} characters long",
                self.min_length
            ));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            problems.push(format!(
                "the password must be at most {MAX_PASSWORD_BYTES} bytes long \
                 (most non-ASCII characters take 2 to 4 bytes)"
            ));
        }

        let lowered = password.to_lowercase();
        let username = context.username.trim().to_lowercase();
        if !username.is_empty() {
            if lowered == username {
                problems.push("the password must not be the same as the username".to_owned());
            } else if username.chars().count() >= 4 && lowered.contains(&username) {
                problems.push("the password must not contain the username".to_owned());
            }
        }
        let email = context.email.trim().to_lowercase();
        let local_part = email.rsplit_once('@').map_or("", |(local, _)| local);
        if !email.is_empty() && lowered == email {
            problems.push("the password must not be the email address".to_owned());
        } else if !local_part.is_empty() && lowered == local_part {
            problems.push(
                "the password must not be the part of the email address before the @".to_owned(),
            );
        }

        let user_inputs: Vec<&str> = [
            context.username,
            context.email,
            local_part,
            context.first_name,
            context.last_name,
        ]
        .into_iter()
        .map(str::trim)
        .filter(|input| !input.is_empty())
        .collect();
        // zxcvbn only looks at the first 100 characters, so this stays cheap.
        let entropy = zxcvbn::zxcvbn(password, &user_inputs);
        if entropy.score() < Score::Three {
            let mut message = "this password is too common or too easy to guess".to_owned();
            if let Some(warning) = entropy.feedback().and_then(|feedback| feedback.warning()) {
                message.push_str(&format!(" ({warning})"));
            }
            problems.push(message);
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: PolicyContext<'static> = PolicyContext {
        username: "alice",
        email: "alice.martin@example.org",
        first_name: "Alice",
        last_name: "Martin",
    };

    fn problems(password: &str, context: &PolicyContext<'_>) -> Vec<String> {
        Policy::default()
            .check(password, context)
            .err()
            .unwrap_or_default()
    }

    fn refused_for(password: &str, context: &PolicyContext<'_>, expected: &str) {
        let problems = problems(password, context);
        assert!(
            problems.iter().any(|problem| problem.contains(expected)),
            "{password:?}: expected {expected:?} in {problems:?}"
        );
    }

    #[test]
    fn good_passwords_pass() {
        for password in ["correct horse battery staple", "Xk3!vR9#tq2L"] {
            for context in [ALICE, PolicyContext::default()] {
                assert_eq!(
                    Policy::default().check(password, &context),
                    Ok(()),
                    "{password}"
                );
            }
        }
    }

    #[test]
    fn common_passwords_are_refused() {
        for password in ["password1234", "qwertyuiop", "1234567890", "iloveyou123"] {
            refused_for(password, &ALICE, "too common or too easy to guess");
            refused_for(password, &PolicyContext::default(), "too easy to guess");
        }
    }

    #[test]
    fn zxcvbn_warning_is_included() {
        refused_for("qwertyuiop", &ALICE, "(This is a top-100 common password.)");
    }

    #[test]
    fn username_is_refused() {
        refused_for("Alice", &ALICE, "must not be the same as the username");
        let long = PolicyContext {
            username: "Maximilian",
            ..ALICE
        };
        refused_for("maximilian", &long, "must not be the same as the username");
        refused_for(
            "my name is MAXIMILIAN!",
            &long,
            "must not contain the username",
        );
        // A repeated username.
        refused_for("alicealicealice", &ALICE, "must not contain the username");
        let short = PolicyContext {
            username: "bob",
            ..PolicyContext::default()
        };
        refused_for("bobbobbobbob", &short, "too common or too easy to guess");
        // Names shorter than 4 characters may appear inside a password.
        assert_eq!(Policy::default().check("Xk3!bob#tq2L", &short), Ok(()));
    }

    #[test]
    fn email_is_refused() {
        refused_for(
            "Alice.Martin@example.org",
            &ALICE,
            "must not be the email address",
        );
        refused_for("alice.martin", &ALICE, "before the @");
        let context = PolicyContext {
            email: "zq7.wombat.kx@example.org",
            ..PolicyContext::default()
        };
        refused_for("zq7.wombat.kx", &context, "before the @");
    }

    #[test]
    fn length_is_counted_in_characters() {
        let short = problems("short", &ALICE);
        assert!(short.contains(&"the password must be at least 10 characters long".to_owned()));
        // 10 characters, 19 bytes.
        let ten = "ключ-замок";
        assert_eq!(ten.chars().count(), 10);
        assert!(
            !problems(ten, &ALICE).iter().any(|p| p.contains("at least")),
            "{:?}",
            problems(ten, &ALICE)
        );
        // 9 characters, 18 bytes.
        refused_for("ключзамок", &ALICE, "at least 10 characters");
        let strict = Policy { min_length: 30 };
        assert!(
            strict
                .check("correct horse battery staple", &ALICE)
                .is_err()
        );
    }

    #[test]
    fn more_than_72_bytes_is_refused() {
        let fits = "é".repeat(36); // 36 characters, 72 bytes
        assert!(!problems(&fits, &ALICE).iter().any(|p| p.contains("bytes")));
        let passphrase = "correct horse battery staple ".repeat(3); // 87 bytes
        refused_for(&passphrase, &ALICE, "at most 72 bytes");
        refused_for(&format!("{fits}e"), &ALICE, "at most 72 bytes");
    }
}
