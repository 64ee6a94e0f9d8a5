package com.example.shop.user;

import java.net.URI;
import java.util.List;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/users")
public class UserController {

    public record NewUser(String email, String displayName) {
    }

    private final UserRepository users;
    private final UserEvents events;

    public UserController(UserRepository users, UserEvents events) {
        this.users = users;
        this.events = events;
    }

    @GetMapping
    public List<User> list() {
        return users.findAll();
    }

    @GetMapping("/{id}")
    public ResponseEntity<User> get(@PathVariable Long id) {
        return ResponseEntity.of(users.findById(id));
    }

    @PostMapping
    public ResponseEntity<User> create(@RequestBody NewUser body) {
        if (body.email() == null || body.email().isBlank()) {
            return ResponseEntity.badRequest().build();
        }
        if (users.findByEmail(body.email()).isPresent()) {
            return ResponseEntity.status(409).build();
        }
        User saved = users.save(new User(body.email(), body.displayName()));
        events.userCreated(saved);
        return ResponseEntity.created(URI.create("/users/" + saved.getId())).body(saved);
    }
}
